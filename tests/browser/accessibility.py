"""axe-core (bundled by axe-playwright-python, nothing fetched) against WCAG 2.2 AA; the walk over a role's pages."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING_IMPACTS = {"serious", "critical"}
# Routes that are not pages people read: files, JSON, health checks, the API.
NOT_PAGES_SUFFIXES = (".csv", ".pdf", ".json", ".xlsx", ".png", ".svg", ".geojson", ".zip")
NOT_PAGES_ENDPOINTS = {"static", "main.healthz", "auth.logout"}

_axe = Axe()


# Charts are drawn after the page loads (webapp/static/js/charts.js marks each one drawn or failed).
CHARTS_SETTLED = """() => [...document.querySelectorAll('[data-chart]')]
  .every(e => e.classList.contains('chart-drawn') || e.classList.contains('chart-failed'))"""


def settle(page: Page) -> None:
    """Wait until the page and its style sheets have loaded and its scripts have finished drawing (charts), so axe
    sees what people see. (A journey's ``expect`` passes as soon as the new page's heading is in the DOM, which can
    be before its CSS applies: axe then measured unstyled links, e.g. a flaky target-size failure in the header.)"""
    page.wait_for_load_state("load")
    page.wait_for_function(CHARTS_SETTLED, timeout=15_000)


def _ratio(text: str) -> float:
    """axe's "4.5:1" as 4.5."""
    return float(str(text).split(":", 1)[0])


def contrast_failures_needing_review(incomplete: list[dict]) -> list[dict]:
    """Text axe measured below the contrast it requires but filed under "needs review" (``incomplete``) instead of
    violations, as a violation of ``color-contrast``.

    axe files text whose colour equals its background (1:1, ``equalRatio``) as needs-review, assuming it is hidden
    on purpose; so white-on-white buttons ("Withdraw it", "Confirm Easton as the area") never showed among the
    violations. Text that is hidden on purpose is hidden from everyone (``visually-hidden``, ``display: none``) and
    axe does not test it; visible text with a measured ratio below the requirement is a failure whatever axe's
    guess. Nodes whose contrast axe could not measure (text over an image or a gradient) stay for review.
    """
    nodes = []
    for rule in incomplete:
        if rule["id"] != "color-contrast":
            continue
        for node in rule["nodes"]:
            data = next((c.get("data") for c in node.get("any", []) if c.get("id") == "color-contrast"), None)
            if not isinstance(data, dict) or not data.get("contrastRatio") or not data.get("expectedContrastRatio"):
                continue
            if float(data["contrastRatio"]) < _ratio(data["expectedContrastRatio"]):
                nodes.append(node)
    if not nodes:
        return []
    return [{"id": "color-contrast", "impact": "serious", "nodes": nodes,
             "help": "Elements must meet minimum color contrast ratio thresholds (axe: needs review)"}]  # fmt: skip


def axe_violations(page: Page) -> list[dict]:
    """Every WCAG 2.0-2.2 A/AA violation axe finds on the page once its charts are drawn, with the contrast
    failures it files as needing review (:func:`contrast_failures_needing_review`)."""
    settle(page)
    # "incomplete" in resultTypes: otherwise axe reports only the first node of each needs-review rule.
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations", "incomplete"]}
    results = _axe.run(page, options=options).response
    return results["violations"] + contrast_failures_needing_review(results["incomplete"])


def blocking(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]


def describe(url: str, violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:4]]
        lines.append(f"{url}: [{v['impact']}] {v['id']}: {v['help']} at {targets}")
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    """No serious or critical WCAG 2.2 AA violation on the page as it is now (for use inside journeys)."""
    found = blocking(axe_violations(page))
    assert not found, "axe found serious or critical WCAG 2.2 AA violations:\n" + describe(page.url, found)


def is_page_rule(route: dict) -> bool:
    return (
        "GET" in route["methods"]
        and route["endpoint"] not in NOT_PAGES_ENDPOINTS
        and not route["rule"].startswith("/api/")
        and not route["rule"].endswith(NOT_PAGES_SUFFIXES)
    )


@dataclass
class Walk:
    """The pages one role reached and what axe said about each."""

    role: str
    checked: dict[str, list[dict]] = field(default_factory=dict)  # url -> all violations
    skipped: dict[str, str] = field(default_factory=dict)  # url -> why

    def blocking_report(self) -> str:
        return "\n".join(describe(url, blocking(v)) for url, v in self.checked.items() if blocking(v))


def walk_pages(page: Page, role: str, routes: list[dict], extra_paths: list[str], limit: int = 45) -> Walk:
    """Visit every page ``role`` may reach, and one example of every page with arguments that is linked from them.

    The seeds are the argument-free GET routes the app's policy allows the role, plus ``extra_paths``; every
    same-site link on a visited page whose route takes arguments adds its first example to the queue. So a page a
    colleague adds is checked as soon as the policy lets the role in and something links to it.
    """
    url_map = Map([Rule(r["rule"], endpoint=r["endpoint"], methods=r["methods"]) for r in routes])
    adapter = url_map.bind("localhost")
    allowed = {r["endpoint"] for r in routes if role in r["allowed"] and is_page_rule(r)}
    seeds = sorted(r["rule"] for r in routes if r["endpoint"] in allowed and not r["arguments"])
    queue = deque(dict.fromkeys([*seeds, *extra_paths]))
    sampled: set[str] = set()
    walk = Walk(role)
    while queue and len(walk.checked) < limit:
        path = queue.popleft()
        if path in walk.checked or path in walk.skipped:
            continue
        try:
            response = page.goto(path)
        except PlaywrightError as exc:  # a download (CSV, PDF) is not a page
            walk.skipped[path] = str(exc).splitlines()[0]
            continue
        content_type = response.headers.get("content-type", "") if response else ""
        if not content_type.startswith("text/html"):
            walk.skipped[path] = f"not HTML ({content_type})"
            continue
        walk.checked[path] = axe_violations(page)
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        for href in hrefs:
            parts = urlsplit(href)
            if parts.netloc != urlsplit(page.url).netloc or not parts.path:
                continue
            try:
                endpoint, args = adapter.match(parts.path, method="GET")
            except HTTPException:
                continue
            if endpoint in allowed and args and endpoint not in sampled:
                sampled.add(endpoint)
                queue.append(parts.path)
    return walk
