"""The report's inline SVG: one element, escaped text, sane with odd numbers."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from farm.model.results import Status
from farm.report import svg


def test_a_strip_has_a_square_per_run_with_an_escaped_tooltip() -> None:
    text = svg.strip([("run <1>", Status.PASS), ("run & 2", Status.FAIL), ("3", Status.CRASH)])
    root = ET.fromstring(text)  # well-formed: the names were escaped
    rects = root.findall("{http://www.w3.org/2000/svg}rect")
    assert [r.get("fill") for r in rects] == [svg.COLOURS[s] for s in (Status.PASS, Status.FAIL, Status.CRASH)]
    assert rects[0].findtext("{http://www.w3.org/2000/svg}title") == "run <1>: pass"


def test_pictures_stay_well_formed_for_flat_empty_and_infinite_numbers() -> None:
    for text in (
        svg.samples([5.0, 5.0], [5.0]),
        svg.samples([], []),
        svg.interval(1.0, 1.0, 1.0, 0.02),
        svg.interval(math.inf, -math.inf, math.inf, 0.02),
        svg.trend([("r1", 1.0, 1.0, 1.0)], "base"),
    ):
        root = ET.fromstring(text)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        places = [float(v) for e in root.iter() for k, v in e.attrib.items() if k in ("x", "x1", "x2", "cx", "cy")]
        assert all(math.isfinite(v) for v in places), text
    assert svg.trend([]) == ""
