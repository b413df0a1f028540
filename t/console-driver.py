#!/usr/bin/python3
"""console-driver.py - a headless Chromium for the console's tests (t/t9000-console.sh)
and benchmark (scripts/bench-console), driven by Debian's chromium-driver through
python3-selenium.

One browser for a whole test: commands come one per line on stdin (shell words,
shlex), each answered with one line on stdout, "ok <json>" or "err <message>", so a
shell test (bash coproc) can interleave the browser with curl, farm-wsd restarts and
the like.

  open URL                    load a page (a token may ride in the fragment)
  wait CSS [SECONDS]          until an element matches (and is displayed)
  gone CSS [SECONDS]          until no displayed element matches
  has CSS TEXT [SECONDS]      until the first match's textContent contains TEXT
  text CSS                    textContent of the first match
  count CSS                   number of matches
  attr CSS NAME               an attribute of the first match
  click CSS / type CSS TEXT / select CSS VALUE / clear CSS
  tile PROJECT STATUS [SECONDS]   until the board's tile of PROJECT shows STATUS;
                              answers the milliseconds it took (polled every 5 ms)
  state STATE [SECONDS]       until the live indicator says STATE (live, reconnecting)
  feed                        the event ids listed on the board, in page order
  find TEXT                   where TEXT occurs: page source, input values, storage
  errors                      console messages of level SEVERE since the last call
  alert                       the text of an open alert, or null
  js SCRIPT...                execute_script (the words joined: `js return 1 + 1`)
  ajs SCRIPT...               execute_async_script (the callback is arguments[0])
  tab [N]                     presses Tab N times; the focused element (tag and text)
  size W H / shot FILE        window size; a PNG screenshot
  quit
"""
from selenium import webdriver
from selenium.common.exceptions import (NoAlertPresentException, StaleElementReferenceException,
                                        WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from lib_driver import serve, until, until_equal


def browser():
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--no-first-run", "--disable-extensions", "--window-size=1280,900",
              "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
              "--proxy-server=direct://", "--proxy-bypass-list=*"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


class Driver:
    def __init__(self):
        self.d = browser()
        self.d.set_script_timeout(60)

    def _visible(self, css):
        try:
            return [e for e in self.d.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]
        except StaleElementReferenceException:  # replaced while looked at: look again
            return []

    _until = staticmethod(until)

    def c_open(self, url):
        self.d.get(url)

    def c_wait(self, css, secs=5):
        self._until(lambda: self._visible(css), secs, "no " + css)

    def c_gone(self, css, secs=5):
        self._until(lambda: not self._visible(css), secs, "still " + css)

    def c_has(self, css, text, secs=5):
        js = "const e=document.querySelector(arguments[0]); return e ? e.textContent : null"
        self._until(lambda: text in (self.d.execute_script(js, css) or ""), secs,
                    "%s without %r: %r" % (css, text, self.d.execute_script(js, css)))

    def c_text(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css).get_attribute("textContent")

    def c_count(self, css):
        return len(self.d.find_elements(By.CSS_SELECTOR, css))

    def c_attr(self, css, name):
        return self.d.find_element(By.CSS_SELECTOR, css).get_attribute(name)

    def c_click(self, css):
        self._until(lambda: self._visible(css), 5, "no " + css)[0].click()

    def c_type(self, css, text):
        self._until(lambda: self._visible(css), 5, "no " + css)[0].send_keys(text)

    def c_clear(self, css):
        self.d.find_element(By.CSS_SELECTOR, css).clear()

    def c_select(self, css, value):
        Select(self.d.find_element(By.CSS_SELECTOR, css)).select_by_value(value)

    def c_tile(self, project, status, secs=5):
        js = ("const t=[...document.querySelectorAll('#board li.tile')].find(t=>"
              "t.querySelector('h3').textContent===arguments[0]); return t?t.dataset.status:null")
        return until_equal(lambda: self.d.execute_script(js, project), status, secs, "tile " + project)

    def c_state(self, state, secs=10):
        self._until(lambda: self.d.execute_script(
            "return document.getElementById('live').dataset.state") == state, secs, "state " + state)

    def c_feed(self):
        return self.d.execute_script(
            "return [...document.querySelectorAll('#feed li')].map(l=>+l.dataset.eventId)")

    def c_find(self, text):
        where = []
        if text in self.d.page_source:
            where.append("source")
        vals = self.d.execute_script(
            "return [...document.querySelectorAll('input,textarea,select')].map(e=>e.value)")
        if any(text in v for v in vals):
            where.append("input")
        store = self.d.execute_script(
            "const o={};for(const s of [sessionStorage,localStorage])for(let i=0;i<s.length;i++)"
            "o[s.key(i)]=s.getItem(s.key(i));return JSON.stringify(o)")
        if text in store:
            where.append("storage")
        return where

    def c_errors(self):
        return [e["message"] for e in self.d.get_log("browser") if e["level"] == "SEVERE"]

    def c_alert(self):
        try:
            return self.d.switch_to.alert.text
        except NoAlertPresentException:
            return None

    def c_js(self, *script):
        return self.d.execute_script(" ".join(script))

    def c_ajs(self, *script):
        return self.d.execute_async_script(" ".join(script))

    def c_tab(self, n=1):
        body = self.d.switch_to.active_element
        for _ in range(int(n)):
            body = self.d.switch_to.active_element
            body.send_keys(Keys.TAB)
        return self.d.execute_script(
            "const e=document.activeElement; return e.tagName + ' ' + (e.textContent || e.id).trim()")

    def c_size(self, w, h):
        self.d.set_window_size(int(w), int(h))

    def c_shot(self, path):
        self.d.save_screenshot(path)


def main():
    drv = Driver()
    serve(drv, (AssertionError, WebDriverException, TypeError, ValueError))
    drv.d.quit()


if __name__ == "__main__":
    main()
