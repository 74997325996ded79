"""What a reader's browser does with a page's images (issue 14): the layout shift while they
arrive, the bytes it downloads for them, and which file each ``<img>`` shows. Used by
``test_e2e_images.py`` and ``tests/bench/bench_image_bytes.py``.

Every image response is held back (``page.route``) until the page's text is laid out, then let
through: an image without the room it needs reserved (no width and height) then moves the text
below it, which is the layout shift the measure must find.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pressline_e2e.stack import EXAMPLES, PUBLISH_TIMEOUT, LocalSite, PublishedPost, front_matter_and_body, wait_for

# A variant as the image stage names it: /media/<dir>/<stem>-<width>w-<hash>.<format>
VARIANT = re.compile(r"-\d+w-[0-9a-f]{6,}\.(?:avif|webp|jpe?g|png)$")
PHONE_WIDTH = 375
TARGET_SAVING = 0.5  # issue 14: a 375-px phone downloads at most half the originals' bytes

# Sums every layout shift not caused by the reader's input, from the page's first frame on
# (buffered: shifts before the observer existed count too).
OBSERVE_SHIFTS_JS = """
window.presslineLayoutShift = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (!entry.hadRecentInput) window.presslineLayoutShift += entry.value;
  }
}).observe({type: 'layout-shift', buffered: true});
"""
TWO_FRAMES_JS = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))"
ALL_IMAGES_LOADED_JS = "() => [...document.images].every(img => img.complete)"
# Down the page a viewport at a time, so every lazy image comes near the viewport once.
SCROLL_DOWN_JS = """
async () => {
  for (let y = 0; y <= document.documentElement.scrollHeight; y += innerHeight / 2) {
    scrollTo(0, y);
    await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  }
  scrollTo(0, document.documentElement.scrollHeight);
}
"""
IMAGES_JS = """
() => [...document.images].map(img => ({
  src: img.getAttribute('src'), currentSrc: img.currentSrc, width: img.getAttribute('width'),
  height: img.getAttribute('height'), srcset: img.getAttribute('srcset'), sizes: img.getAttribute('sizes'),
  naturalWidth: img.naturalWidth, inPicture: img.parentElement.tagName === 'PICTURE',
}))
"""


class ImageGate:
    """Holds every image request of a page until ``open()``; after it, lets them through at once."""

    def __init__(self) -> None:
        self.held: list[Callable[[], None]] = []
        self.opened = False

    def install(self, page: Any) -> None:
        page.route("**/*", self._handle)

    def _handle(self, route: Any, request: Any) -> None:
        if request.resource_type != "image":
            route.fallback()
            return
        self.defer(route.continue_)

    def defer(self, answer: Callable[[], None]) -> None:
        if self.opened:
            answer()
        else:
            self.held.append(answer)

    def open(self) -> int:
        """Lets the held requests go; returns how many there were."""
        self.opened = True
        held, self.held = self.held, []
        for answer in held:
            answer()
        return len(held)


def layout_shift(page: Any, url: str, gate: ImageGate) -> float:
    """The page's cumulative layout shift from its first frame until every image has arrived and
    the page has been scrolled to the bottom, its images held back until its text was laid out.
    ``gate`` must be installed on ``page`` (before any other route that defers to it)."""
    page.add_init_script(OBSERVE_SHIFTS_JS)
    page.goto(url, wait_until="domcontentloaded")
    page.evaluate(TWO_FRAMES_JS)  # the text is laid out, with no image yet
    gate.open()
    page.wait_for_load_state("load")
    page.wait_for_function(ALL_IMAGES_LOADED_JS)
    page.evaluate(SCROLL_DOWN_JS)
    page.wait_for_function(ALL_IMAGES_LOADED_JS)
    page.evaluate(TWO_FRAMES_JS)
    return float(page.evaluate("() => window.presslineLayoutShift"))


def load_whole_page(page: Any, url: str) -> None:
    """Open the page and scroll to its bottom, until every image on it (lazy ones too) has loaded."""
    page.goto(url, wait_until="load")
    page.evaluate(SCROLL_DOWN_JS)
    page.wait_for_function(ALL_IMAGES_LOADED_JS)
    page.wait_for_load_state("networkidle")


@contextmanager
def phone_visit(browser: Any, url: str, *, dpr: int, timeout_ms: int) -> Iterator[tuple[Any, ImageBytes]]:
    """A first visit to ``url`` at PHONE_WIDTH and ``dpr`` (a new context: nothing cached), the
    page loaded whole (lazy images too) and the image bytes it received collected."""
    from pressline_e2e.browser import new_context

    context = new_context(browser, width=PHONE_WIDTH, device_scale_factor=dpr)
    try:
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        received = ImageBytes()
        received.watch(page)
        load_whole_page(page, url)
        received.collect()
        yield page, received
    finally:
        context.close()


def images_on(page: Any) -> list[dict[str, Any]]:
    """Each ``<img>`` of the page: its attributes, the URL it shows and its pixel width."""
    found: list[dict[str, Any]] = page.evaluate(IMAGES_JS)
    return found


def is_variant(url: str) -> bool:
    return bool(VARIANT.search(unquote(urlsplit(url).path)))


@dataclass
class ImageBytes:
    """The image responses a page received (URL -> bytes of the body)."""

    responses: list[Any] = field(default_factory=list)
    by_url: dict[str, int] = field(default_factory=dict)

    def watch(self, page: Any) -> None:
        page.on("response", lambda response: self.responses.append(response))

    def collect(self) -> int:
        """Sums the bodies of the image responses received (each URL once), 200s only."""
        for response in self.responses:
            if response.request.resource_type != "image" or response.status != 200:
                continue
            if not response.headers.get("content-type", "").startswith("image/"):
                continue
            self.by_url.setdefault(response.url, len(response.body()))
        self.responses.clear()
        return sum(self.by_url.values())


# ![alt](src "title") in Markdown and <img src="..."> in raw HTML, as authors write them.
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)")
_HTML_IMAGE = re.compile(r"<img\b[^>]*\bsrc=[\"']?([^\"'\s>]+)", re.I)
_FRONT_IMAGE = re.compile(r"^image:\s*['\"]?([^'\"\s#]+)", re.M)


def original_images(post: PublishedPost, cover_only: bool = False) -> dict[str, int]:
    """The example files a post shows (its cover and the images of its body that sit beside it
    in examples/posts/), each once, with their bytes: what a browser downloaded before issue 14.
    ``cover_only``: its cover alone (what a listing shows of it)."""
    text = (EXAMPLES / post.key.removeprefix("posts/")).read_text(encoding="utf-8")
    front, body = front_matter_and_body(text)
    names = _FRONT_IMAGE.findall(front)
    if not cover_only:
        names += [*_MARKDOWN_IMAGE.findall(body), *_HTML_IMAGE.findall(body)]
    found: dict[str, int] = {}
    for name in names:
        path = (EXAMPLES / unquote(name)).resolve()
        if path.parent == EXAMPLES.resolve() and path.is_file():
            found[path.name] = path.stat().st_size
    return found


def originals_total() -> int:
    """Bytes of every image file among the example posts."""
    return sum(path.stat().st_size for path in example_image_files())


def example_image_files() -> list[Path]:
    return sorted(path for path in EXAMPLES.iterdir() if path.suffix.lower() != ".md" and path.is_file())


def wait_for_images(site: LocalSite, path: str) -> None:
    """Until the image stage has published the images of the post at ``path`` and Index has written its pages
    again with them (an image may land after its post: the first page links it as written), and
    no stage has a message left: every page is then as readers will see it."""
    queues = [url for name, url in site.outputs.items() if name.endswith("QueueUrl") and "Dead" not in name]

    def idle() -> bool:
        sqs = site.client("sqs")
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        for queue in queues:
            attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)["Attributes"]
            if any(int(attributes.get(name, "0")) for name in names):
                return False
        return True

    def shown() -> bool:
        with urllib.request.urlopen(site.url(path), timeout=10) as response:
            return b'class="cover"' in response.read()

    wait_for(shown, PUBLISH_TIMEOUT, f"the cover on {path} (the image stage's variants)")
    wait_for(idle, PUBLISH_TIMEOUT, "every queue empty")
