"""The tools of the e2e weather conversation (loaded by ``convctl run --tools``)."""

from controller import tool


@tool
def get_weather(city: str) -> dict:
    """Current weather for a city.

    Args:
        city: The city, e.g. Paris.
    """
    return {"city": city, "temperature_c": 22, "sky": "sunny"}
