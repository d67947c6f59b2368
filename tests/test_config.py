"""``Config``: every loader, silent modes, error messages, relative paths (Flask 3.1 parity)."""

from __future__ import annotations

import errno
import json
import os
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ambi import Ambi, Config


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(str(tmp_path), {"KEEP": "default"})


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``AMBI_*`` or ``APP_*`` variables from the outer environment leak into a test."""
    for key in list(os.environ):
        if key.startswith(("AMBI_", "APP_")):
            monkeypatch.delenv(key)
    return monkeypatch


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- construction ---------------------------------------------------------------------------


def test_defaults_are_copied_and_repr() -> None:
    defaults = {"A": 1}
    config = Config("/somewhere", defaults)
    config["A"] = 2
    assert defaults == {"A": 1}
    assert config.root_path == "/somewhere"
    assert repr(config) == "<Config {'A': 2}>"
    assert Config("/somewhere") == {}
    assert isinstance(config, dict)


def test_app_config_has_defaults_and_root_path(tmp_path: Path) -> None:
    app = Ambi("config_app", root_path=str(tmp_path))
    assert isinstance(app.config, Config)
    assert app.config.root_path == str(tmp_path)
    assert app.config["DEBUG"] is False
    assert app.config["APPLICATION_ROOT"] == "/"
    write(tmp_path / "settings.py", "DEBUG = True\nSECRET_KEY = 'k'\n")
    assert app.config.from_pyfile("settings.py") is True
    assert app.debug is True
    assert app.secret_key == "k"


# -- from_pyfile ----------------------------------------------------------------------------


def test_from_pyfile_takes_upper_case_names_only(config: Config, tmp_path: Path) -> None:
    write(
        tmp_path / "settings.py",
        """
        import os as _os
        DEBUG = True
        SECRET_KEY = "dev"
        lower = "skipped"
        Mixed = "skipped"
        _HIDDEN = "underscore prefix but upper: kept as Flask does"
        PORT = 40 + 2
        HERE = __file__
        def helper():
            return 1
        """,
    )
    assert config.from_pyfile("settings.py") is True
    assert config["DEBUG"] is True
    assert config["SECRET_KEY"] == "dev"
    assert config["PORT"] == 42
    assert config["HERE"] == str(tmp_path / "settings.py")
    assert config["_HIDDEN"].startswith("underscore")
    assert config["KEEP"] == "default"
    for name in ("lower", "Mixed", "helper", "_os", "os", "__file__", "__builtins__"):
        assert name not in config


def test_from_pyfile_relative_to_root_path_absolute_wins(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path / "root" / "a.py", "WHERE = 'root'\n")
    write(tmp_path / "elsewhere" / "b.py", "WHERE = 'elsewhere'\n")
    config = Config(tmp_path / "root")  # a PathLike root works too
    config.from_pyfile("a.py")
    assert config["WHERE"] == "root"
    config.from_pyfile(tmp_path / "elsewhere" / "b.py")  # absolute, PathLike
    assert config["WHERE"] == "elsewhere"
    (tmp_path / "root" / "sub").mkdir()
    write(tmp_path / "root" / "sub" / "c.py", "WHERE = 'sub'\n")
    config.from_pyfile(os.path.join("sub", "c.py"))
    assert config["WHERE"] == "sub"


def test_relative_root_path_is_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    write(tmp_path / "conf" / "s.py", "X = 1\n")
    monkeypatch.chdir(tmp_path)
    config = Config("conf")
    assert config.from_pyfile("s.py") is True
    assert config["X"] == 1


def test_from_pyfile_missing(config: Config, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.py")
    with pytest.raises(OSError, match="Unable to load configuration file") as info:
        config.from_pyfile("missing.py")
    assert isinstance(info.value, FileNotFoundError)
    assert str(info.value) == (
        f"[Errno 2] Unable to load configuration file (No such file or directory): {missing!r}"
    )
    assert config.from_pyfile("missing.py", silent=True) is False
    assert config == {"KEEP": "default"}


def test_from_pyfile_silent_on_directory_and_not_a_directory(
    config: Config, tmp_path: Path
) -> None:
    (tmp_path / "folder").mkdir()
    write(tmp_path / "plain.txt", "")
    assert config.from_pyfile("folder", silent=True) is False
    assert config.from_pyfile("plain.txt/inner.py", silent=True) is False  # ENOTDIR
    with pytest.raises(IsADirectoryError, match=r"Unable to load configuration file \(Is a"):
        config.from_pyfile("folder")


def test_from_pyfile_other_open_errors_are_raised_even_when_silent(
    config: Config, tmp_path: Path
) -> None:
    too_long = "x" * 1000 + ".py"  # ENAMETOOLONG: not a missing file, so never silent
    with pytest.raises(OSError, match="Unable to load configuration file") as info:
        config.from_pyfile(too_long, silent=True)
    assert info.value.errno == errno.ENAMETOOLONG
    with pytest.raises(OSError, match="Unable to load configuration file"):
        config.from_file(too_long, load=json.load, silent=True)


def test_from_pyfile_syntax_error_names_the_file(config: Config, tmp_path: Path) -> None:
    write(tmp_path / "broken.py", "DEBUG = = True\n")
    with pytest.raises(SyntaxError) as info:
        config.from_pyfile("broken.py", silent=True)  # silent is about missing files only
    assert info.value.filename == str(tmp_path / "broken.py")
    assert info.value.__notes__ == [
        f"While loading the configuration file {str(tmp_path / 'broken.py')!r}"
    ]


def test_from_pyfile_error_while_running_names_the_file(config: Config, tmp_path: Path) -> None:
    write(tmp_path / "boom.py", "A = 1\nB = 1 / 0\n")
    with pytest.raises(ZeroDivisionError) as info:
        config.from_pyfile("boom.py")
    assert str(tmp_path / "boom.py") in info.value.__notes__[0]
    assert "A" not in config  # nothing is loaded from a file that failed


def test_from_pyfile_oserror_inside_the_file_is_not_silenced(
    config: Config, tmp_path: Path
) -> None:
    write(tmp_path / "opens.py", "open('/definitely/not/here.txt')\n")
    with pytest.raises(FileNotFoundError) as info:
        config.from_pyfile("opens.py", silent=True)
    assert "Unable to load configuration file" not in str(info.value)
    assert "opens.py" in info.value.__notes__[0]


def test_from_pyfile_encoding_cookie(config: Config, tmp_path: Path) -> None:
    (tmp_path / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\nNAME = '\xe9'\n")
    config.from_pyfile("latin.py")
    assert config["NAME"] == "é"


# -- from_envvar ----------------------------------------------------------------------------


def test_from_envvar(config: Config, tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    write(tmp_path / "env_settings.py", "FROM_ENV = True\n")
    clean_env.setenv("APP_SETTINGS", "env_settings.py")  # relative to root_path
    assert config.from_envvar("APP_SETTINGS") is True
    assert config["FROM_ENV"] is True


def test_from_envvar_unset(config: Config, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.delenv("APP_SETTINGS", raising=False)
    with pytest.raises(RuntimeError) as info:
        config.from_envvar("APP_SETTINGS")
    assert str(info.value) == (
        "The environment variable 'APP_SETTINGS' is not set and as such configuration could"
        " not be loaded. Set this variable and make it point to a configuration file"
    )
    assert config.from_envvar("APP_SETTINGS", silent=True) is False
    clean_env.setenv("APP_SETTINGS", "")  # empty counts as unset
    with pytest.raises(RuntimeError, match="'APP_SETTINGS' is not set"):
        config.from_envvar("APP_SETTINGS")


def test_from_envvar_missing_file(
    config: Config, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("APP_SETTINGS", str(tmp_path / "nope.py"))
    with pytest.raises(FileNotFoundError, match=r"Unable to load configuration file .*nope\.py"):
        config.from_envvar("APP_SETTINGS")
    assert config.from_envvar("APP_SETTINGS", silent=True) is False


# -- from_file ------------------------------------------------------------------------------


def test_from_file_toml(config: Config, tmp_path: Path) -> None:
    write(
        tmp_path / "config.toml",
        """
        DEBUG = true
        SECRET_KEY = "s3cr3t"
        lower = "skipped"

        [DATABASE]
        HOST = "db.local"
        PORT = 5432
        """,
    )
    assert config.from_file("config.toml", load=tomllib.load, text=False) is True
    assert config["DEBUG"] is True
    assert config["SECRET_KEY"] == "s3cr3t"
    assert config["DATABASE"] == {"HOST": "db.local", "PORT": 5432}
    assert "lower" not in config


def test_from_file_json(config: Config, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"DEBUG": True, "NAME": "café", "skip": 1, "LIST": [1, 2]}), encoding="utf-8"
    )
    assert config.from_file(tmp_path / "config.json", load=json.load) is True
    assert config["DEBUG"] is True
    assert config["NAME"] == "café"  # read as UTF-8 whatever the locale
    assert config["LIST"] == [1, 2]
    assert "skip" not in config


def test_from_file_passes_text_or_binary_file(config: Config, tmp_path: Path) -> None:
    write(tmp_path / "raw.cfg", "X=1\n")
    seen: list[Any] = []

    def load(file: Any) -> dict[str, Any]:
        seen.append(file.read())
        return {"X": 1}

    config.from_file("raw.cfg", load=load)
    config.from_file("raw.cfg", load=load, text=False)
    assert seen == ["X=1\n", b"X=1\n"]


def test_from_file_missing(config: Config, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.toml")
    with pytest.raises(FileNotFoundError) as info:
        config.from_file("missing.toml", load=tomllib.load, text=False)
    assert str(info.value) == (
        f"[Errno 2] Unable to load configuration file (No such file or directory): {missing!r}"
    )
    assert config.from_file("missing.toml", load=tomllib.load, silent=True, text=False) is False
    (tmp_path / "adir").mkdir()
    assert config.from_file("adir", load=json.load, silent=True) is False
    with pytest.raises(IsADirectoryError, match="Unable to load configuration file"):
        config.from_file("adir", load=json.load)
    assert config == {"KEEP": "default"}


def test_from_file_toml_syntax_error_names_the_file(config: Config, tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", "DEBUG = tru\n")
    with pytest.raises(tomllib.TOMLDecodeError) as info:
        config.from_file("bad.toml", load=tomllib.load, text=False, silent=True)
    assert info.value.__notes__ == [f"While loading the configuration file {str(path)!r}"]
    assert "DEBUG" not in config


def test_from_file_json_syntax_error_names_the_file(config: Config, tmp_path: Path) -> None:
    path = write(tmp_path / "bad.json", '{"DEBUG": true,}')
    with pytest.raises(json.JSONDecodeError) as info:
        config.from_file("bad.json", load=json.load)
    assert str(path) in info.value.__notes__[0]


def test_from_file_toml_in_text_mode_is_a_clear_type_error(config: Config, tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "A = 1\n")
    with pytest.raises(TypeError, match="binary mode") as info:
        config.from_file("c.toml", load=tomllib.load)  # forgot text=False
    assert str(path) in info.value.__notes__[0]


def test_from_file_not_a_mapping(config: Config, tmp_path: Path) -> None:
    path = write(tmp_path / "list.json", "[1, 2]")
    with pytest.raises(TypeError) as info:
        config.from_file("list.json", load=json.load)
    assert str(info.value) == (
        f"The configuration file {str(path)!r} must hold a mapping of settings at the top"
        " level, not a list"
    )


# -- from_prefixed_env ----------------------------------------------------------------------


def test_from_prefixed_env(config: Config, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AMBI_STRING", "some text")
    clean_env.setenv("AMBI_BOOL", "true")
    clean_env.setenv("AMBI_INT", "42")
    clean_env.setenv("AMBI_FLOAT", "1.5")
    clean_env.setenv("AMBI_LIST", "[1, 2]")
    clean_env.setenv("AMBI_DICT", '{"k": "v"}')
    clean_env.setenv("AMBI_NULL", "null")
    clean_env.setenv("AMBI_QUOTED", '"42"')
    clean_env.setenv("AMBI_lower", "kept: env keys are taken as they are, as in Flask")
    clean_env.setenv("AMBIX_NOT_PREFIXED", "1")
    clean_env.setenv("NOT_AMBI_X", "1")
    assert config.from_prefixed_env() is True
    assert config["STRING"] == "some text"
    assert config["BOOL"] is True
    assert config["INT"] == 42
    assert config["FLOAT"] == 1.5
    assert config["LIST"] == [1, 2]
    assert config["DICT"] == {"k": "v"}
    assert config["NULL"] is None
    assert config["QUOTED"] == "42"
    assert config["lower"].startswith("kept")
    assert "X" not in config
    assert "NOT_PREFIXED" not in config
    assert "AMBI_STRING" not in config
    assert config["KEEP"] == "default"


def test_from_prefixed_env_custom_prefix_and_loads(
    config: Config, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("APP_A", "1")
    clean_env.setenv("APP_B", "fail")
    clean_env.setenv("AMBI_C", "not taken")

    def loads(value: str) -> Any:
        if value == "fail":
            raise ValueError(value)
        return f"loaded {value}"

    config.from_prefixed_env("APP", loads=loads)
    assert config["A"] == "loaded 1"
    assert config["B"] == "fail"  # the raw string when loads fails
    assert "C" not in config


def test_from_prefixed_env_nested(config: Config, clean_env: pytest.MonkeyPatch) -> None:
    config["EXISTING"] = {"KEEP": True, "INNER": {"X": 0}}
    clean_env.setenv("AMBI_EXISTING__NEW", "1")
    clean_env.setenv("AMBI_EXISTING__INNER__X", "2")
    clean_env.setenv("AMBI_NEW__A__B", '"deep"')
    clean_env.setenv("AMBI_NEW__A__C", "raw")
    config.from_prefixed_env()
    assert config["EXISTING"] == {"KEEP": True, "NEW": 1, "INNER": {"X": 2}}
    assert config["NEW"] == {"A": {"B": "deep", "C": "raw"}}


def test_from_prefixed_env_sorted_so_a_whole_value_comes_before_its_keys(
    config: Config, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("AMBI_DB__PORT", "5432")
    clean_env.setenv("AMBI_DB", '{"HOST": "x", "PORT": 1}')
    config.from_prefixed_env()
    assert config["DB"] == {"HOST": "x", "PORT": 5432}


@pytest.mark.parametrize(
    ("existing", "env_key", "path", "type_name"),
    [
        (5, "AMBI_PORT__X", "PORT", "int"),
        ("text", "AMBI_PORT__X", "PORT", "str"),
        ({"A": [1]}, "AMBI_PORT__A__B", "PORT__A", "list"),
    ],
)
def test_from_prefixed_env_nested_under_a_non_dict_is_a_clear_error(
    config: Config,
    clean_env: pytest.MonkeyPatch,
    existing: Any,
    env_key: str,
    path: str,
    type_name: str,
) -> None:
    config["PORT"] = existing
    clean_env.setenv(env_key, "1")
    with pytest.raises(TypeError) as info:
        config.from_prefixed_env()
    assert str(info.value) == (
        f"Cannot set the configuration from the environment variable {env_key!r}:"
        f" {path!r} is a {type_name}, not a dict, so it cannot hold nested keys"
    )


# -- from_mapping ---------------------------------------------------------------------------


def test_from_mapping(config: Config) -> None:
    assert config.from_mapping({"A": 1, "lower": 2, "B": 1}, B=3, c=4) is True
    assert config == {"KEEP": "default", "A": 1, "B": 3}
    assert config.from_mapping() is True
    assert config.from_mapping(None, D=5) is True
    assert config["D"] == 5
    config.from_mapping([("E", 6), ("e", 7)])  # type: ignore[arg-type]  # pairs, as dict()
    assert config["E"] == 6
    config.from_mapping({1: "int key", ("T",): "tuple"})  # type: ignore[dict-item]
    assert all(isinstance(key, str) for key in config)  # non-string keys are skipped


# -- from_object ----------------------------------------------------------------------------


class BaseSettings:
    DEBUG = False
    SHARED = "base"
    lower = "skipped"


class Settings(BaseSettings):
    DEBUG = True
    SECRET_KEY = "k"
    _private = "skipped"

    @property
    def COMPUTED(self) -> str:
        return "from the instance"


def test_from_object_class_instance_and_inheritance(config: Config) -> None:
    config.from_object(Settings)
    assert config["DEBUG"] is True
    assert config["SHARED"] == "base"
    assert config["SECRET_KEY"] == "k"
    assert "lower" not in config
    assert "_private" not in config
    assert isinstance(config["COMPUTED"], property)
    from_instance = Config("/")
    from_instance.from_object(Settings())
    assert from_instance["COMPUTED"] == "from the instance"


def test_from_object_module_and_import_strings(config: Config) -> None:
    config.from_object(sys.modules[__name__])
    assert config["MODULE_SETTING"] == "module level"
    assert "write" not in config

    other = Config("/")
    other.from_object(f"{__name__}:Settings")
    assert other["SECRET_KEY"] == "k"
    other = Config("/")
    other.from_object(f"{__name__}.Settings")
    assert other["SECRET_KEY"] == "k"
    other = Config("/")
    other.from_object(__name__)
    assert other["MODULE_SETTING"] == "module level"
    other = Config("/")
    other.from_object(f"{__name__}:Nested.Inner")  # a dotted path after the colon
    assert other == {"DEEP": 1}
    other = Config("/")
    other.from_object("errno")  # a top-level module
    assert other["ENOENT"] == 2
    other = Config("/")
    other.from_object("os.path")  # a module that is an attribute of a package
    other = Config("/")
    other.from_object("email.mime")  # a subpackage by name
    other.from_object("json.JSONDecoder")  # a module attribute without a colon


MODULE_SETTING = "module level"


class Nested:
    class Inner:
        DEEP = 1


@pytest.mark.parametrize(
    "name",
    [
        "nope.module:X",
        "nope_module_xyz",
        "nope.module.X",
        "json:NoSuchThing",
        "json.NoSuchThing",
        f"{__name__}:Nested.Missing",
        "",
        ":X",
        ".relative",
    ],
)
def test_from_object_bad_import_string(config: Config, name: str) -> None:
    with pytest.raises(ImportError, match=rf"^Could not import {name!r} for the configuration"):
        config.from_object(name)
    assert config == {"KEEP": "default"}


def test_from_object_module_whose_own_import_fails_keeps_its_error(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "ambi_cfg_broken_dep.py", "import ambi_no_such_dependency\nX = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match="ambi_no_such_dependency") as info:
        config.from_object("ambi_cfg_broken_dep")
    assert isinstance(info.value.__cause__, ModuleNotFoundError)
    assert info.value.__cause__.name == "ambi_no_such_dependency"
    with pytest.raises(ImportError, match="ambi_no_such_dependency"):
        config.from_object("ambi_cfg_broken_dep.X")
    monkeypatch.delitem(sys.modules, "ambi_cfg_broken_dep", raising=False)


# -- get_namespace --------------------------------------------------------------------------


def test_get_namespace(config: Config) -> None:
    config.from_mapping(
        IMAGE_STORE_TYPE="fs", IMAGE_STORE_PATH="/var/app/images", IMAGE_STORE_BASE_URL="u", X=1
    )
    assert config.get_namespace("IMAGE_STORE_") == {
        "type": "fs",
        "path": "/var/app/images",
        "base_url": "u",
    }
    assert config.get_namespace("IMAGE_STORE_", lowercase=False) == {
        "TYPE": "fs",
        "PATH": "/var/app/images",
        "BASE_URL": "u",
    }
    assert config.get_namespace("IMAGE_STORE_", trim_namespace=False) == {
        "image_store_type": "fs",
        "image_store_path": "/var/app/images",
        "image_store_base_url": "u",
    }
    assert config.get_namespace("NOTHING_") == {}


# -- parity with Flask ----------------------------------------------------------------------


def test_same_results_as_flask(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    flask_config = pytest.importorskip("flask.config")
    write(tmp_path / "s.py", "A = 1\nb = 2\nC = [1]\n")
    write(tmp_path / "s.toml", "A = 1\nb = 2\n[T]\nX = 'y'\n")
    clean_env.setenv("AMBI_ONE", "1")
    clean_env.setenv("AMBI_N__X__Y", "[true]")
    clean_env.setenv("AMBI_RAW", "{not json")
    results = []
    for cls in (Config, flask_config.Config):
        c = cls(str(tmp_path), {"D": 0})
        c.from_pyfile("s.py")
        c.from_file("s.toml", load=tomllib.load, text=False)
        c.from_prefixed_env("AMBI")
        c.from_object(Settings)
        c.from_mapping({"M": 1, "m": 2})
        results.append((dict(c), c.get_namespace("N")))
    assert results[0] == results[1]
