"""A small W3C WebDriver client: headless Chromium driven through the Debian ``chromium-driver``.

Selenium is not needed for the few commands the UI test uses (open a URL, find, type, click,
switch into an iframe, run a script, take a screenshot); they are plain JSON over HTTP to
``chromedriver``. Outside CI a missing driver skips the test; with ``CI=true`` it fails.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference


def find_driver() -> tuple[str, str]:
    driver, chromium = shutil.which("chromedriver"), shutil.which("chromium")
    if driver and chromium:
        return driver, chromium
    message = (
        "headless Chromium needs the Debian packages chromium and chromium-driver (apt-get install chromium-driver)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


class Browser:
    def __init__(self, width: int = 1280, height: int = 1000):
        driver, chromium = find_driver()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.profile = tempfile.mkdtemp(prefix="ea-chromium-")
        self.process = subprocess.Popen(
            [driver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.base}/status", timeout=2).json()["value"]["ready"]:
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            assert time.monotonic() < deadline, "chromedriver did not start"
            time.sleep(0.2)
        options = {
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                f"--window-size={width},{height}",
                f"--user-data-dir={self.profile}",
            ],
        }
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}}
        self.session = self._call("POST", f"{self.base}/session", caps)["sessionId"]

    def _call(self, method: str, url: str, body: Any = None) -> Any:
        response = httpx.request(method, url, json=body, timeout=120)
        data = response.json()
        value = data.get("value")
        if response.status_code >= 400:
            raise AssertionError(f"webdriver {method} {url}: {response.status_code} {value}")
        return data if "sessionId" in data else value

    def cmd(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"{self.base}/session/{self.session}{path}", body)

    def open(self, url: str) -> None:
        self.cmd("POST", "/url", {"url": url})

    @property
    def url(self) -> str:
        return self.cmd("GET", "/url")

    def find(self, css: str, timeout: float = 30) -> str:
        """The first element matching ``css``, waiting for it to appear."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.cmd("POST", "/elements", {"using": "css selector", "value": css})
            if found:
                return found[0][ELEMENT]
            assert time.monotonic() < deadline, f"no element {css!r} on {self.url}:\n{self.page_text()[:2000]}"
            time.sleep(0.3)

    def find_text(self, css: str, text: str, timeout: float = 30) -> str:
        """The first element matching ``css`` whose visible text is ``text``.

        Looked up in one script call: Airflow's React pages re-render while they load, so an
        element listed by one WebDriver call can be gone ("stale") by the next.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = self.script(
                "return [...document.querySelectorAll(arguments[0])]"
                ".find(e => e.innerText.trim() === arguments[1]) || null",
                css,
                text,
            )
            if found:
                return found[ELEMENT]
            assert time.monotonic() < deadline, f"no {css!r} reading {text!r} on {self.url}"
            time.sleep(0.3)

    def click_text(self, css: str, text: str, timeout: float = 30) -> None:
        """Click the element ``find_text`` finds, looking it up again if a re-render made it stale."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.click(self.find_text(css, text, timeout))
            except AssertionError as error:
                if "stale element reference" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def type(self, element: str, text: str) -> None:
        self.cmd("POST", f"/element/{element}/value", {"text": text})

    def click(self, element: str) -> None:
        self.cmd("POST", f"/element/{element}/click", {})

    def frame(self, element: str | None) -> None:
        """Into the iframe ``element``, or back to the top document with None."""
        self.cmd("POST", "/frame", {"id": {ELEMENT: element} if element else None})

    def script(self, source: str, *args: Any) -> Any:
        return self.cmd("POST", "/execute/sync", {"script": source, "args": list(args)})

    def page_text(self) -> str:
        return self.script("return document.body ? document.body.innerText : ''")

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.cmd("GET", "/screenshot")))
        return path

    def quit(self) -> None:
        try:
            self.cmd("DELETE", "")
        except (AssertionError, httpx.HTTPError):
            pass
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)
