"""The YAML config: the contract loads, every mistake is reported with file:line and key, secrets stay secret.

Bad fixtures in tests/data/configs/bad/ carry their expected errors as `# expect: LINE: message`
comments, one per error, so adding a case is adding a file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel

from monitor.config import (
    Config,
    ConfigError,
    EmailNotifier,
    SecretError,
    SecretRef,
    SlackNotifier,
    WebhookNotifier,
    format_duration,
    load_config,
    parse_config,
    parse_duration,
    parse_size,
    resolve_config_path,
)
from monitor.domain import Pair

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "tests" / "data" / "configs"
EXAMPLE = ROOT / "config" / "monitor.example.yaml"
BAD = sorted((CONFIGS / "bad").glob("*.yaml"))
SECRET_VALUES = ("hunter2-plain-value", "plain-value", "pasted-value", "s3cr3t-from-env", "s3cr3t-from-file")


def expected_errors(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8").replace("{dir}", str(path.parent))
    return [f"{path}:{m.group(1)}: {m.group(2)}" for m in re.finditer(r"^# expect: (\d+): (.*)$", text, re.M)]


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.errors


def write(tmp_path: Path, text: str, name: str = "monitor.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the contract and good files


def test_it_loads_the_contract_from_the_issue() -> None:
    config = load_config(CONFIGS / "good" / "contract.yaml")
    assert config.database == "sqlite:///var/monitor.db"
    assert config.poll.interval == timedelta(minutes=5)
    assert [(f.name, f.url, f.interval) for f in config.feeds] == [
        ("BBC World", "https://feeds.bbci.co.uk/news/world/rss.xml", timedelta(minutes=2))
    ]
    assert config.pair_list() == (Pair.of("PK", "IR"), Pair.of("IN", "PK"))
    email = config.notifiers["desk-email"]
    assert isinstance(email, EmailNotifier)
    assert (email.host, email.port, email.starttls, email.tls, email.username) == (
        "smtp.example.org",
        587,
        True,
        False,
        "monitor",
    )
    assert (email.from_, email.to) == ("monitor@example.org", ["desk@example.org"])
    assert email.password == SecretRef(env="SMTP_PASSWORD", owner="notifier 'desk-email' password")
    slack = config.notifiers["desk-slack"]
    assert isinstance(slack, SlackNotifier) and slack.url.env == "SLACK_WEBHOOK_URL"
    hook = config.notifiers["ops-hook"]
    assert isinstance(hook, WebhookNotifier)
    assert hook.url == "https://hooks.example.org/monitor"
    assert hook.secret is not None and hook.secret.env == "WEBHOOK_SECRET"
    assert [n.name for n in config.notifiers.values()] == ["desk-email", "desk-slack", "ops-hook"]


def test_it_fills_every_default_from_a_minimal_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "pairs: [[PK, IR]]\nnotifiers:\n"))
    assert config.path == tmp_path / "monitor.yaml"
    assert config.database == "sqlite:///var/monitor.db"
    assert config.timezone == "UTC" and config.templates_dir is None
    assert config.feeds == [] and config.notifiers == {}
    assert config.poll.max_body == 5_000_000 and config.poll.concurrency == 50
    assert config.alerting.thresholds.as_tuple() == (10.0, 25.0, 50.0)
    assert config.alerting.half_life == timedelta(hours=12)
    assert config.delivery.retry_for == timedelta(hours=24)


def test_it_routes_pairs_to_their_notifiers_or_to_all(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    routing = CONFIGS / "good" / "routing.yaml"
    config = load_config(write(tmp_path, routing.read_text(encoding="utf-8")))
    assert config.notifiers_for(Pair.of("IR", "PK")) == ("desk-email",)
    assert config.notifiers_for(Pair.of("PK", "IN")) == ("desk-email", "ops-hook")
    assert config.notifiers_for(Pair.of("NO", "SE")) == ()  # `NO` is Norway, not false
    assert config.notifiers_for(Pair.of("US", "CN")) == ("desk-email", "ops-hook")  # not configured: all
    assert Pair.of("AF", "PK") in config.pair_configs()
    assert config.pair_config(Pair.of("US", "CN")) is None


def test_it_reads_sizes_durations_and_tls_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, (CONFIGS / "good" / "routing.yaml").read_text(encoding="utf-8")))
    assert config.poll.interval == timedelta(hours=1, minutes=30)
    assert config.poll.max_body == 512_000 and config.poll.jitter == timedelta(0)
    dawn, local = config.feeds
    assert config.feed_interval(dawn) == timedelta(hours=1, minutes=30) and dawn.weight == 1.5
    assert config.feed_interval(local) == timedelta(seconds=90)
    email = config.notifiers["desk-email"]
    assert isinstance(email, EmailNotifier)
    assert (email.port, email.tls, email.starttls) == (465, True, False)  # implicit TLS defaults
    assert email.to == ["desk@example.org"]
    assert config.alerting.thresholds.as_tuple() == (2.0, 5.0, 9.5)
    assert config.delivery.retry_for == timedelta(days=2)
    assert str(config.tz) == "Asia/Karachi"


def test_it_resolves_relative_paths_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "etc" / "templates").mkdir(parents=True)
    path = write(
        tmp_path / "etc",
        "templates_dir: templates\n"
        "notifiers:\n"
        "  mail: {type: email, host: h.example.org, username: u, password_file: pw,\n"
        "         from: a@example.org, to: [b@example.org]}\n",
    )
    config = load_config(path)
    assert config.templates_dir == tmp_path / "etc" / "templates"
    email = config.notifiers["mail"]
    assert isinstance(email, EmailNotifier)
    assert email.password is not None and email.password.file == tmp_path / "etc" / "pw"


def test_the_example_config_is_valid_and_sends_nothing() -> None:
    config = load_config(EXAMPLE)
    assert len(config.feeds) >= 7
    assert all(f.url.startswith("https://") for f in config.feeds)
    assert {p.key for p in config.pair_list()} == {"IR-PK", "IN-PK", "IL-IR", "CN-TW", "RU-UA"}
    assert config.notifiers == {}
    assert config.database == "sqlite:///var/monitor.db"


def test_the_example_config_shows_every_key_of_the_schema() -> None:
    """An analyst edits the example without reading code: every key is at least mentioned there."""
    text = EXAMPLE.read_text(encoding="utf-8")
    from monitor.config import AlertingConfig, DeliveryConfig, FeedConfig, PollConfig, Thresholds

    sections: dict[str, type[BaseModel]] = {
        "poll": PollConfig,
        "feeds": FeedConfig,
        "alerting": AlertingConfig,
        "thresholds": Thresholds,
        "delivery": DeliveryConfig,
        "email": EmailNotifier,
        "slack": SlackNotifier,
        "webhook": WebhookNotifier,
    }
    missing = []
    for section, model in sections.items():
        for name, field in model.model_fields.items():
            key = field.alias or name
            if key.startswith("<") or key.endswith("_file"):
                continue
            if not re.search(rf"\b{re.escape(key)}:", text):
                missing.append(f"{section}.{key}")
    for key in Config.model_fields:
        if key != "path" and not re.search(rf"\b{key}:", text):
            missing.append(key)
    assert missing == []


# ---------------------------------------------------------------- errors: file, line, key, message


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_each_bad_config_reports_exactly_its_errors_with_file_and_line(path: Path) -> None:
    expected = expected_errors(path)
    assert expected, f"{path.name} has no '# expect:' lines"
    assert errors_of(path) == expected


def test_errors_are_one_per_line_in_the_exception_text() -> None:
    path = CONFIGS / "bad" / "bad_country.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).splitlines() == expected_errors(path)


def test_it_never_prints_a_plain_secret_in_its_errors() -> None:
    for name in ("plain_secrets.yaml", "secret_pasted_as_env_name.yaml"):
        text = "\n".join(errors_of(CONFIGS / "bad" / name))
        assert not any(secret in text for secret in SECRET_VALUES), text


def test_it_names_a_missing_file_and_an_unreadable_encoding(tmp_path: Path) -> None:
    assert errors_of(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: no such config file"]
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("feeds: []\n# caf\xe9\n".encode("latin-1"))
    assert errors_of(latin) == [f"{latin}: not UTF-8 text (bad byte at offset 15)"]


def test_it_accepts_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "x-defaults: &d {interval: 10m}\n"  # unknown top-level key: still an error
        "feeds:\n  - {<<: *d, name: A, url: 'https://a.example.org/rss'}\n",
    )
    assert errors_of(path) == [f"{path}:1: x-defaults: unknown key"]
    path = write(
        tmp_path, "feeds:\n  - &f {name: A, url: 'https://a.example.org/rss'}\n  - {<<: *f, name: B}\n"
    )
    assert errors_of(path) == [f"{path}:2: feeds[1].url: duplicate feed URL (also feeds[0])"]  # where *f is
    path = write(
        tmp_path,
        "poll: {interval: 10m}\nfeeds:\n  - &f {name: A, url: 'https://a.example.org/rss'}\n"
        "  - {<<: *f, name: B, url: 'https://b.example.org/rss', interval: 1m}\n",
    )
    config = load_config(path)
    assert [(f.name, f.url, f.interval) for f in config.feeds] == [
        ("A", "https://a.example.org/rss", None),
        ("B", "https://b.example.org/rss", timedelta(minutes=1)),
    ]


# ---------------------------------------------------------------- durations and sizes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("250ms", timedelta(milliseconds=250)),
        ("1.5h", timedelta(minutes=90)),
        ("5M", timedelta(minutes=5)),
    ],
)
def test_it_parses_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["90", "", "5 minutes", "m5", "1h30", "-5m", "5mm"])
def test_it_rejects_durations_without_a_valid_unit(text: str) -> None:
    with pytest.raises(ValueError, match="unit"):
        parse_duration(text)


def test_a_bare_number_gets_a_hint() -> None:
    with pytest.raises(ValueError, match=r"bare number '90' is ambiguous: durations need a unit: 90s, 5m"):
        parse_duration("90")


@pytest.mark.parametrize("text", ["90s", "5m", "1h30m", "2d", "14d", "24h", "250ms", "0s", "1.5s", "1d"])
def test_format_duration_round_trips(text: str) -> None:
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


def test_format_duration_writes_what_a_person_would() -> None:
    assert [format_duration(parse_duration(t)) for t in ("90s", "1.5s", "24h", "14d", "36h")] == [
        "1m30s",
        "1s500ms",
        "24h",
        "14d",
        "36h",
    ]


@pytest.mark.parametrize(
    ("text", "expected"), [("5MB", 5_000_000), ("512kB", 512_000), ("2MiB", 2 * 1024**2), (1000, 1000)]
)
def test_it_parses_sizes(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


# ---------------------------------------------------------------- secrets


def test_a_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "s3cr3t-from-env")
    ref = SecretRef(env="SMTP_PASSWORD", owner="notifier 'desk-email' password")
    assert ref.reveal() == "s3cr3t-from-env"
    monkeypatch.delenv("SMTP_PASSWORD")
    with pytest.raises(SecretError) as caught:
        ref.reveal()
    assert (
        str(caught.value) == "notifier 'desk-email' password: environment variable SMTP_PASSWORD is not set"
    )


def test_a_secret_comes_from_a_file_without_its_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "smtp-password"
    path.write_text("s3cr3t-from-file\n", encoding="utf-8")
    ref = SecretRef(file=path, owner="notifier 'desk-email' password")
    assert ref.reveal() == "s3cr3t-from-file"
    path.write_text("", encoding="utf-8")
    with pytest.raises(SecretError, match=f"notifier 'desk-email' password: {re.escape(str(path))} is empty"):
        ref.reveal()
    path.unlink()
    with pytest.raises(SecretError, match=r"cannot read .*No such file"):
        ref.reveal()


def test_secrets_are_read_when_revealed_not_when_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    config = load_config(CONFIGS / "good" / "contract.yaml")  # loads although the variable is unset
    email = config.notifiers["desk-email"]
    assert isinstance(email, EmailNotifier) and email.password is not None
    monkeypatch.setenv("SMTP_PASSWORD", "s3cr3t-from-env")
    assert email.password.reveal() == "s3cr3t-from-env"


def test_repr_of_config_and_secrets_never_shows_a_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "s3cr3t-from-env")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/s3cr3t-from-env")
    config = load_config(CONFIGS / "good" / "contract.yaml")
    text = repr(config) + str(config) + repr(config.notifiers["desk-email"].secrets())
    assert "s3cr3t" not in text
    assert repr(SecretRef(env="SMTP_PASSWORD")) == "SecretRef(env='SMTP_PASSWORD')"
    assert SecretRef(file=Path("/run/credentials/x")).describe() == "file /run/credentials/x"


# ---------------------------------------------------------------- where the config is found


def test_resolve_config_path_prefers_the_argument_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    write(tmp_path / "config", "feeds: []\n")
    monkeypatch.setenv("MONITOR_CONFIG", "/srv/from-env.yaml")
    assert resolve_config_path("given.yaml") == Path("given.yaml")
    assert resolve_config_path(None) == Path("/srv/from-env.yaml")
    monkeypatch.delenv("MONITOR_CONFIG")
    assert resolve_config_path(None) == Path("config/monitor.yaml")


def test_resolve_config_path_falls_back_to_etc_then_fails_listing_what_it_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    if Path("/etc/monitor/monitor.yaml").is_file():
        assert resolve_config_path(None) == Path("/etc/monitor/monitor.yaml")
        return
    with pytest.raises(ConfigError) as caught:
        resolve_config_path(None)
    assert "config/monitor.yaml, /etc/monitor/monitor.yaml" in str(caught.value)
    assert "--config" in str(caught.value) and "$MONITOR_CONFIG" in str(caught.value)


# ---------------------------------------------------------------- `monitor check` as a user runs it


def run_check(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SMTP_PASSWORD", "SLACK_WEBHOOK_URL", "WEBHOOK_SECRET")
    }
    return subprocess.run(
        [sys.executable, "-m", "monitor", "check", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=60,
        check=False,
    )


def test_check_passes_on_the_example_config() -> None:
    result = run_check("--config", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "https://feeds.bbci.co.uk/news/world/rss.xml" in result.stdout
    assert "IR-PK  Iran–Pakistan" in result.stdout
    assert "notifiers: none (alerts are recorded, not sent)" in result.stdout
    assert result.stdout.rstrip().endswith(f"{EXAMPLE}: OK")


def test_check_prints_one_line_per_error_and_exits_1() -> None:
    path = CONFIGS / "bad" / "plain_secrets.yaml"
    result = run_check("--config", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == expected_errors(path)
    assert not any(secret in result.stderr for secret in SECRET_VALUES)


def test_check_reports_missing_secrets_by_name_and_shows_references_only(tmp_path: Path) -> None:
    path = CONFIGS / "good" / "contract.yaml"
    result = run_check("--config", str(path), env={"SMTP_PASSWORD": "s3cr3t-from-env"})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{path}:15: notifiers.desk-slack.url_env: notifier 'desk-slack' url: "
        "environment variable SLACK_WEBHOOK_URL is not set",
        f"{path}:16: notifiers.ops-hook.secret_env: notifier 'ops-hook' secret: "
        "environment variable WEBHOOK_SECRET is not set",
    ]
    assert "password: $SMTP_PASSWORD" in result.stdout
    assert "webhook URL: $SLACK_WEBHOOK_URL" in result.stdout
    assert "s3cr3t" not in result.stdout + result.stderr


def test_check_passes_with_every_secret_present_and_masks_the_database_password(tmp_path: Path) -> None:
    text = (CONFIGS / "good" / "contract.yaml").read_text(encoding="utf-8")
    path = write(
        tmp_path, text.replace("sqlite:///var/monitor.db", "postgresql+psycopg://mon:dbs3cr3t@db/mon")
    )
    env = {
        "SMTP_PASSWORD": "s3cr3t-from-env",
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/s3cr3t-from-env",
        "WEBHOOK_SECRET": "s3cr3t-from-env",
    }
    result = run_check("--config", str(path), env=env)
    assert result.returncode == 0, result.stderr
    assert "database: postgresql+psycopg://mon:***@db/mon" in result.stdout
    assert "s3cr3t" not in result.stdout + result.stderr


def test_check_rejects_a_slack_secret_that_is_not_a_url(tmp_path: Path) -> None:
    path = write(tmp_path, "notifiers:\n  desk-slack: {type: slack, url_env: SLACK_WEBHOOK_URL}\n")
    result = run_check("--config", str(path), env={"SLACK_WEBHOOK_URL": "s3cr3t-from-env"})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{path}:2: notifiers.desk-slack.url_env: $SLACK_WEBHOOK_URL does not hold an http(s) URL"
    ]
    assert "s3cr3t" not in result.stdout + result.stderr


def test_check_reads_monitor_config_from_the_environment(tmp_path: Path) -> None:
    result = run_check(env={"MONITOR_CONFIG": str(EXAMPLE)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = run_check(env={"MONITOR_CONFIG": str(tmp_path / "missing.yaml")}, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, f"{tmp_path / 'missing.yaml'}: no such config file\n")


def test_parse_config_validates_text_for_other_tests() -> None:
    config = parse_config("pairs: [[PK, IR]]\n")
    assert config.pair_list() == (Pair.of("PK", "IR"),)
    with pytest.raises(ConfigError, match=r"^<memory>:1: pairs\[0\]: 'ZZ' is not"):
        parse_config("pairs: [[PK, ZZ]]\n")


def test_a_single_recipient_or_notifier_may_be_written_without_brackets() -> None:
    config = parse_config(
        "pairs: [{pair: PK-IR, notify: hook}]\n"
        "notifiers:\n"
        "  hook: {type: webhook, url: 'https://hooks.example.org/x'}\n"
        "  mail: {type: email, host: smtp.example.org, from: a@example.org, to: b@example.org}\n"
    )
    assert config.notifiers_for(Pair.of("IR", "PK")) == ("hook",)
    mail = config.notifiers["mail"]
    assert isinstance(mail, EmailNotifier) and mail.to == ["b@example.org"]


def test_an_absurd_duration_is_an_error_not_a_crash() -> None:
    with pytest.raises(ConfigError, match=r"^<memory>:1: poll.interval: duration too long: '99999999999d'$"):
        parse_config("poll: {interval: 99999999999d}\n")


# ---------------------------------------------------------------- the systemd unit


def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = (ROOT / "deploy" / "monitor.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/monitor/.venv/bin/monitor --config /etc/monitor/monitor.yaml run" in unit
    # The unit names the installed path; point it at this checkout's entry point to verify the rest.
    entry = Path(sys.executable).parent / "monitor"
    (tmp_path / "monitor.service").write_text(unit.replace("/opt/monitor/.venv/bin/monitor", str(entry)))
    result = subprocess.run(
        [analyze, "verify", "./monitor.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_an_alias_bomb_or_a_self_referring_alias_is_an_error_not_a_hang() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
    )
    with pytest.raises(ConfigError, match=r"more than 100000 values \(an alias expanding without end\?\)"):
        parse_config(bomb)
    with pytest.raises(ConfigError, match=r"^<memory>:1: feeds\[0\]: an alias refers to itself$"):
        parse_config("feeds: &f [*f]\n")


def test_the_commented_notifier_examples_are_valid_once_uncommented(tmp_path: Path) -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index("notifiers:")
    out = []
    for i, line in enumerate(lines):
        if i > start and line.startswith("  #"):
            line = "  " + line[len("  # ") :] if line.startswith("  # ") else ""
        out.append(line)
    config = load_config(write(tmp_path, "\n".join(out) + "\n"))
    assert {name: n.type for name, n in config.notifiers.items()} == {
        "desk-email": "email",
        "desk-slack": "slack",
        "ops-hook": "webhook",
    }
    email = config.notifiers["desk-email"]
    assert isinstance(email, EmailNotifier)
    assert (email.port, email.starttls, email.tls) == (587, True, False)
    assert email.password == SecretRef(env="SMTP_PASSWORD", owner="notifier 'desk-email' password")
    assert config.notifiers_for(Pair.of("PK", "IR")) == ("desk-email", "desk-slack", "ops-hook")
