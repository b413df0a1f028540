#!/bin/bash
# t1200-credential-fields.sh - what a credential's url and name may hold, checked at
# create (and PATCH) time: a url is a base (no query, no fragment, a port 1..65535);
# a name shows what it is (no bidirectional controls, not only invisible characters).

. "$(dirname "$0")/test-lib.sh"

create() { # create TYPE NAME-JSON VALUE-JSON
	TOKEN=$ADMIN api POST /api/v1/integrations/credentials \
		"{\"type\":\"$1\",\"name\":$2,\"value\":$3}"
}
refused() { # refused "message": 400 with that message, nothing stored
	expect_status 400 && test_grep "$1" body
}

test_expect_success 'start the stack' '
	start_farm &&
	ADMIN=$(token alice org-a admin)
'

test_expect_success 'url with a fragment, a query or port 99999: refused at create' '
	create jenkins "\"j\"" "{\"url\":\"https://jenkins.example.com/#frag\",\"username\":\"u\",\"apiToken\":\"t\"}" &&
	refused "value.url must be an http:// or https:// URL (a base URL has no query or fragment)" &&
	create argocd "\"a\"" "{\"url\":\"https://argocd.example.com/?x=1\",\"token\":\"t\"}" &&
	refused "value.url must be an http:// or https:// URL (a base URL has no query or fragment)" &&
	create circleci "\"c\"" "{\"url\":\"https://circleci.example.com:99999\",\"token\":\"t\"}" &&
	refused "value.url must be an http:// or https:// URL (bad port in URL (1..65535))" &&
	create travisci "\"t\"" "{\"url\":\"https://travis.example.com:0/\",\"token\":\"t\"}" &&
	refused "bad port in URL" &&
	create argocd "\"a\"" "{\"url\":\"https://argo cd.example.com\",\"token\":\"t\"}" &&
	refused "value.url must be an http:// or https:// URL" &&
	TOKEN=$ADMIN api GET /api/v1/integrations/credentials && test_equal "$(cat body)" "[]"
'

test_expect_success 'good urls still pass: a path, a port, an IPv6 literal' '
	create jenkins "\"j\"" "{\"url\":\"http://jenkins.local:8080/ci/\",\"username\":\"u\",\"apiToken\":\"t\"}" &&
	expect_status 201 && ID=$(json_get body "d[\"id\"]") &&
	create argocd "\"a6\"" "{\"url\":\"https://[::1]:8443\",\"token\":\"t\"}" &&
	expect_status 201
'

test_expect_success 'PATCH checks the url the same way' '
	TOKEN=$ADMIN api PATCH /api/v1/integrations/credentials/$ID \
		"{\"value\":{\"url\":\"https://jenkins.example.com:65536\",\"username\":\"u\",\"apiToken\":\"t\"}}" &&
	refused "bad port in URL"
'

test_expect_success 'a name with a bidirectional control is refused (U+202E, U+2066)' '
	create circleci "\"invoice\\u202egpj.exe\"" "{\"token\":\"t\"}" &&
	refused "name must not contain bidirectional control characters" &&
	create circleci "\"a\\u2066b\"" "{\"token\":\"t\"}" &&
	refused "name must not contain bidirectional control characters" &&
	create circleci "\"a\\u202ab\"" "{\"token\":\"t\"}" &&
	refused "name must not contain bidirectional control characters"
'

test_expect_success 'a name of invisible characters only is refused' '
	create circleci "\"\\u200b\\u200b\"" "{\"token\":\"t\"}" &&
	refused "name must contain a visible character" &&
	create circleci "\"\\u00a0\\u3000\\ufeff \\u2060\"" "{\"token\":\"t\"}" &&
	refused "name must contain a visible character" &&
	create circleci "\"\\u0085x\"" "{\"token\":\"t\"}" &&
	refused "name must not contain control characters"
'

test_expect_success 'names in any script, with a zero-width joiner between visible ones, pass' '
	create circleci "\"Продакшн CI\"" "{\"token\":\"t\"}" && expect_status 201 &&
	create circleci "\"\\u05d1\\u05e0\\u05d9\\u05d9\\u05d4 build\"" "{\"token\":\"t\"}" && expect_status 201 &&
	create circleci "\"team \\ud83d\\udc69\\u200d\\ud83d\\udcbb\"" "{\"token\":\"t\"}" && expect_status 201
'

test_expect_success 'PATCH checks the name the same way' '
	TOKEN=$ADMIN api PATCH /api/v1/integrations/credentials/$ID "{\"name\":\"x\\u202ey\"}" &&
	refused "bidirectional control"
'

test_done
