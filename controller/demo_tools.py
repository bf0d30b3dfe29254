"""Demo tools for trying convctl: ``convctl run --tools controller.demo_tools``.

They answer with made-up data, computed from the city's name so the same city always
gets the same answer, and every answer says ``"source": "demo data, not real"`` so neither
the model nor the user mistakes it for a forecast or a clock. Use this module as a
template for your own tools: plain functions, type hints, a docstring, ``@tool``.
No network, no clock, no files.
"""

from __future__ import annotations

import zlib

from controller.tools import tool

DEMO_SOURCE = "demo data, not real"
_SKIES = ("sunny", "partly cloudy", "cloudy", "light rain", "windy")


def _seed(city: str) -> int:
    # A stable number per city (Python's hash() changes from run to run).
    return zlib.crc32(city.strip().lower().encode("utf-8"))


@tool
def get_weather(city: str) -> dict[str, object]:
    """Get the current weather for a city. DEMO: the answer is made up, not a real forecast;
    tell the user it is demo data.

    Args:
        city: The city name, for example "Paris".
    """
    seed = _seed(city)
    return {"city": city, "temperature_c": seed % 31 - 5, "sky": _SKIES[seed % len(_SKIES)],
            "source": DEMO_SOURCE}


@tool
def get_time(city: str) -> dict[str, object]:
    """Get the local time in a city. DEMO: the answer is made up, not the real time;
    tell the user it is demo data.

    Args:
        city: The city name, for example "Tokyo".
    """
    minutes = (_seed(city) // 7) % (24 * 60)
    return {"city": city, "local_time": f"{minutes // 60:02d}:{minutes % 60:02d}",
            "source": DEMO_SOURCE}
