"""A user marks functions with @tool; convctl describes them to the model and loads them."""

from __future__ import annotations

import enum
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import pytest

from controller import tool
from controller.errors import ToolError
from controller.settings import ToolSpec
from controller.tool_outputs import error_output, result_output
from controller.tools import ToolRegistry, describe, load_tools, tool_of


class Units(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


def spec(function: Any) -> ToolSpec:
    described = tool_of(function)
    assert described is not None, "the function was not marked"
    return described.spec


# --- Schemas from signatures, hints and docstrings ------------------------------------------

def test_a_plain_function_becomes_a_tool_with_its_docstring_and_hints() -> None:
    @tool
    def get_weather(city: str, days: int = 1) -> dict[str, Any]:
        """Current weather for a city.

        Spoken answers only; this line is not part of the description.

        Args:
            city: The city name, e.g. Paris.
            days (int): How many days
                to forecast.

        Returns:
            A forecast.
        """
        return {}

    assert spec(get_weather) == ToolSpec(
        name="get_weather",
        description="Current weather for a city.",
        parameters={
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city name, e.g. Paris."},
                "days": {"type": "integer", "description": "How many days to forecast.",
                         "default": 1},
            },
            "required": ["city"],
        })
    assert get_weather("Paris") == {}, "the decorator returns the function unchanged"


@pytest.mark.parametrize(("hint", "schema"), [
    (str, {"type": "string"}),
    (int, {"type": "integer"}),
    (float, {"type": "number"}),
    (bool, {"type": "boolean"}),
    (list[str], {"type": "array", "items": {"type": "string"}}),
    (list[list[int]], {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}),
    (list, {"type": "array"}),
    (dict, {"type": "object"}),
    (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
    (Literal["metric", "imperial"], {"type": "string", "enum": ["metric", "imperial"]}),
    (Literal[1, 2, 3], {"type": "integer", "enum": [1, 2, 3]}),
    (Units, {"type": "string", "enum": ["celsius", "fahrenheit"]}),
    (list[Units], {"type": "array", "items": {"type": "string",
                                              "enum": ["celsius", "fahrenheit"]}}),
    (Any, {}),
])
def test_each_supported_hint_has_its_json_schema(hint: Any, schema: dict[str, Any]) -> None:
    def lookup(value):
        return value

    lookup.__annotations__ = {"value": hint}
    described = describe(lookup)
    assert described.spec.parameters["properties"]["value"] == schema
    assert described.spec.parameters["required"] == ["value"]


def test_optional_and_defaulted_parameters_are_not_required() -> None:
    @tool
    def search(query: str, limit: int | None = None, lang: Optional[str] = None,  # noqa: UP045
               page: str | None = None, exact: bool = False, units: Units = Units.CELSIUS
               ) -> list[str]:
        """Search."""
        return []

    parameters = spec(search).parameters
    assert parameters["required"] == ["query"]
    assert parameters["properties"]["limit"] == {"type": "integer"}
    assert parameters["properties"]["lang"] == {"type": "string"}
    assert parameters["properties"]["exact"] == {"type": "boolean", "default": False}
    assert parameters["properties"]["units"]["default"] == "celsius"


def test_annotated_text_describes_a_parameter() -> None:
    @tool
    def book(seats: Annotated[int, "How many seats to book"]) -> str:
        """Book seats."""
        return "ok"

    assert spec(book).parameters["properties"]["seats"] == {
        "type": "integer", "description": "How many seats to book"}


def test_name_and_description_can_be_given_to_the_decorator() -> None:
    @tool(name="weather-now", description="Weather, right now.")
    def lookup(city: str) -> str:
        """Ignored, because the decorator says otherwise."""
        return city

    assert spec(lookup).name == "weather-now"
    assert spec(lookup).description == "Weather, right now."


def test_a_tool_without_parameters_or_docstring_is_an_empty_object() -> None:
    @tool()
    def ping() -> str:
        return "pong"

    assert spec(ping) == ToolSpec(name="ping", description="",
                                  parameters={"type": "object", "properties": {}})


# --- Definition errors name the function and the parameter --------------------------------

@pytest.mark.parametrize(("hint", "words"), [
    (set[str], "unsupported type hint"),
    (tuple[int, int], "unsupported type hint"),
    (int | str, "union"),
    (dict[int, str], "dict keys must be str"),
    (object, "unsupported type hint"),
])
def test_an_unsupported_hint_is_refused_naming_function_and_parameter(hint: Any,
                                                                      words: str) -> None:
    def fetch(target):
        return target

    fetch.__annotations__ = {"target": hint}
    with pytest.raises(ToolError, match=words) as caught:
        tool(fetch)
    assert "'fetch'" in str(caught.value) and "parameter 'target'" in str(caught.value)


def test_a_parameter_without_a_hint_is_refused() -> None:
    with pytest.raises(ToolError, match="parameter 'city' has no type hint"):
        @tool
        def get_weather(city):
            return city


def test_args_and_kwargs_are_refused() -> None:
    with pytest.raises(ToolError, match=r"parameter 'rest' cannot be \*args"):
        @tool
        def spread(*rest: str) -> None:
            return None


def test_an_async_tool_is_refused_with_what_to_do_instead() -> None:
    with pytest.raises(ToolError, match=r"is async.*plain def"):
        @tool
        async def fetch(url: str) -> str:
            return url


def test_a_bad_tool_name_is_refused() -> None:
    with pytest.raises(ToolError, match="tool name 'get weather'"):
        @tool(name="get weather")
        def lookup(city: str) -> str:
            return city


def test_only_functions_can_be_tools() -> None:
    with pytest.raises(ToolError, match="marks plain functions"):
        tool(print)


# --- The registry ---------------------------------------------------------------------------

def get_time(city: str) -> str:
    """The time in a city."""
    return "12:00"


def test_the_registry_lists_specs_in_order_and_finds_tools_by_name() -> None:
    @tool
    def get_weather(city: str) -> str:
        """Weather."""
        return "sunny"

    registry = ToolRegistry([get_weather, get_time])  # an unmarked function is described too
    assert [s.name for s in registry.specs()] == ["get_weather", "get_time"]
    found = registry.get("get_time")
    assert found is not None and found.function is get_time
    assert registry.get("missing") is None
    assert "get_weather" in registry and len(registry) == 2


def test_the_registry_refuses_the_builtin_finish_tool_name() -> None:
    @tool
    def end_conversation() -> str:
        return "bye"

    with pytest.raises(ToolError, match="'end_conversation' is built in"):
        ToolRegistry([end_conversation])


def test_the_registry_refuses_two_tools_with_one_name() -> None:
    @tool(name="get_time")
    def other_time(city: str) -> str:
        return "13:00"

    with pytest.raises(ToolError, match="two tools are named 'get_time'"):
        ToolRegistry([get_time, other_time])


# --- Reading the model's arguments ------------------------------------------------------------

def test_arguments_are_checked_and_converted_to_what_the_function_expects() -> None:
    @tool
    def plan(city: str, days: int, ratio: float, note: str | None,
             units: Units = Units.CELSIUS, tags: list[str] | None = None) -> str:
        return city

    described = tool_of(plan)
    assert described is not None
    assert described.prepare({"city": "Oslo", "days": 2.0, "ratio": 1, "units": "fahrenheit",
                              "tags": ["a"]}) == {
        "city": "Oslo", "days": 2, "ratio": 1.0, "units": Units.FAHRENHEIT, "note": None,
        "tags": ["a"]}
    # A null for a defaulted parameter means "use the default": it is left out of the call.
    assert described.prepare({"city": "Oslo", "days": 1, "ratio": 0.5, "units": None}) == {
        "city": "Oslo", "days": 1, "ratio": 0.5, "note": None}


@pytest.mark.parametrize(("arguments", "message"), [
    ({"days": 1}, "missing required argument 'city'"),
    ({"city": 5, "days": 1}, "argument 'city' must be a string, got 5"),
    ({"city": "Oslo", "days": True}, "argument 'days' must be a whole number"),
    ({"city": "Oslo", "days": 1.5}, "argument 'days' must be a whole number"),
    ({"city": "Oslo", "days": 1, "units": "kelvin"}, "argument 'units' must be one of"),
    ({"city": "Oslo", "days": 1, "tags": ["a", 2]}, "argument 'tags' item 1 must be a string"),
    ({"city": "Oslo", "days": 1, "colour": "red"}, "unexpected argument 'colour'"),
    (["Oslo"], "arguments must be a JSON object"),
])
def test_arguments_that_do_not_fit_say_what_is_wrong(arguments: Any, message: str) -> None:
    @tool
    def plan(city: str, days: int, units: Units = Units.CELSIUS,
             tags: list[str] | None = None) -> str:
        return city

    described = tool_of(plan)
    assert described is not None
    with pytest.raises(ValueError, match=message):
        described.prepare(arguments)


# --- Loading --tools ---------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def restore_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Loading a tools file puts its folder on sys.path and the module in sys.modules."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("convctl_user_tools_"):
            del sys.modules[name]


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_tools_load_from_a_python_file(tmp_path: Path) -> None:
    path = write(tmp_path, "my_tools.py", '''
        from controller import tool

        @tool
        def add(a: int, b: int) -> int:
            """Add two numbers."""
            return a + b

        def helper() -> None:
            """Not marked, so not a tool."""
    ''')
    registry = load_tools(str(path))
    assert registry.names() == ("add",)
    added = registry.get("add")
    assert added is not None and added.function(a=2, b=3) == 5


def test_tools_load_from_a_module_name() -> None:
    registry = load_tools("controller.demo_tools")
    assert registry.names() == ("get_weather", "get_time")


def test_the_demo_tools_say_their_data_is_not_real() -> None:
    registry = load_tools("controller.demo_tools")
    for described in registry:
        assert "DEMO" in described.spec.description
        answer = described.function(city="Paris")
        assert answer["source"] == "demo data, not real"
        assert answer == described.function(city="Paris"), "the same city, the same answer"


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match=r"tools file .*nope.py not found"):
        load_tools(str(tmp_path / "nope.py"))


def test_a_missing_module_is_a_clear_error() -> None:
    with pytest.raises(ToolError, match="no module named 'no_such_tools_module'"):
        load_tools("no_such_tools_module")


def test_an_import_error_shows_the_line_that_failed(tmp_path: Path) -> None:
    path = write(tmp_path, "broken_tools.py", '''
        from controller import tool

        WEATHER = undefined_name + 1
    ''')
    with pytest.raises(ToolError) as caught:
        load_tools(str(path))
    message = str(caught.value)
    assert "NameError" in message and "undefined_name" in message
    assert "line 4: WEATHER = undefined_name + 1" in message


def test_a_syntax_error_shows_the_line_that_failed(tmp_path: Path) -> None:
    path = write(tmp_path, "typo_tools.py", '''
        def get_weather(city: str) -> str
            return city
    ''')
    with pytest.raises(ToolError, match=r"(?s)SyntaxError.*line 2: def get_weather"):
        load_tools(str(path))


def test_a_bad_tool_definition_in_a_file_names_the_function(tmp_path: Path) -> None:
    path = write(tmp_path, "untyped_tools.py", '''
        from controller import tool

        @tool
        def get_weather(city):
            return city
    ''')
    with pytest.raises(ToolError, match=r"'get_weather' \(untyped_tools.py:4\).*no type hint"):
        load_tools(str(path))


def test_a_module_without_marked_tools_says_how_to_mark_them(tmp_path: Path) -> None:
    path = write(tmp_path, "plain.py", '''
        def get_weather(city: str) -> str:
            return city
    ''')
    with pytest.raises(ToolError, match=r"no tools in .*plain.py: mark .* with @tool"):
        load_tools(str(path))


# --- What the model reads back --------------------------------------------------------------

def test_results_are_sent_as_json_and_text_as_it_is() -> None:
    assert result_output({"temperature_c": 18, "sky": "cloudy"}) == (
        '{"temperature_c": 18, "sky": "cloudy"}', True)
    assert result_output("It is sunny.") == ("It is sunny.", True)
    assert result_output(None) == ("null", True)
    assert result_output(["é"]) == ('["é"]', True)


@pytest.mark.parametrize(("value", "named"), [
    ({1, 2}, "set"),
    ({"when": object()}, "object"),
    (float("nan"), "float"),
])
def test_a_value_json_cannot_carry_is_answered_with_an_error(value: Any, named: str) -> None:
    output, ok = result_output(value)
    assert not ok
    error = json.loads(output)["error"]
    assert error.startswith("tool returned a value that is not JSON-serialisable: " + named)


def test_an_error_output_tells_the_model_to_tell_the_user() -> None:
    answer = json.loads(error_output("service unavailable"))
    assert answer["error"] == "service unavailable"
    assert "tell the user" in answer["tell_user"].lower()
