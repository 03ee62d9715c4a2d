"""The `monitor` command line. Thin: parse arguments, call the library, print.

Each command names the function that implements it as "module:function" under monitor.commands;
it is imported only when that command runs, so `monitor classify` never loads the database stack.
A command function takes the parsed arguments and returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]


def _add(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    target: str,
    help_text: str,
    common: argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
    parser.set_defaults(target=target)
    return parser


def _transformer_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--transformer",
        action="store_true",
        help="read unsure items again with the transformer stage (needs the 'transformer' extra)",
    )


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monitor",
        description="Crisis monitor: watches news feeds and alerts when tension between "
        "country pairs escalates or de-escalates.",
    )
    parser.add_argument(
        "--config",
        help="config file (default: $MONITOR_CONFIG, else ./config/monitor.yaml, "
        "else /etc/monitor/monitor.yaml)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    # Accept --config after the command too ("monitor check --config FILE").
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help="config file")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _add(sub, "run", "daemon:run", "run the daemon in the foreground (polls, scores, alerts)", common)
    _add(sub, "check", "check:check", "validate the config and print a summary", common)
    _add(
        sub,
        "poll-once",
        "daemon:poll_once",
        "poll every feed once, print one status line per feed, exit",
        common,
    )

    p = _add(sub, "items", "data:items", "list stored items, newest first", common)
    p.add_argument("--since", help="only items published at or after this ISO 8601 time")
    p.add_argument("--limit", type=_at_least_one, default=50, help="at most N items (default 50)")
    p.add_argument("--format", choices=["table", "jsonl"], default="table")

    p = _add(sub, "feeds", "data:feeds", "show the health of each feed", common)
    p.add_argument("--format", choices=["table", "jsonl"], default="table")

    p = _add(sub, "db", "data:db", "database maintenance", common)
    p.add_argument("action", choices=["upgrade"], help="upgrade: apply migrations")

    p = _add(
        sub, "classify", "classify:classify", "classify JSON Lines of headlines (id, title, summary)", common
    )
    p.add_argument("--input", default="-", help="JSON Lines file, or - for stdin (default)")
    p.add_argument("--output", default="-", help="JSON Lines file, or - for stdout (default)")
    _transformer_flag(p)

    p = _add(sub, "explain", "classify:explain", "show how the classifier reads one headline", common)
    p.add_argument("text", help="the headline")
    p.add_argument("--summary", default="", help="the lead or summary")
    _transformer_flag(p)

    p = _add(sub, "eval", "classify:evaluate", "measure the classifier on labeled JSON Lines", common)
    p.add_argument("--input", required=True, help="labeled JSON Lines (format of shared/eval)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _transformer_flag(p)

    p = _add(
        sub,
        "replay",
        "replay:replay",
        "replay archived items through dedup, classify, tension and alerting on a simulated clock",
        common,
    )
    p.add_argument("--input", required=True, help="items JSON Lines (format of shared/corpus)")
    p.add_argument("--output", default="-", help="alerts JSON Lines, or - for stdout (default)")
    p.add_argument("--deliver", action="store_true", help="really send the alerts")

    p = _add(sub, "test-alert", "alerts:test_alert", "send a sample alert through the notifiers", common)
    p.add_argument("--notifier", help="only this notifier")

    _add(sub, "status", "alerts:status", "pairs, notifiers and feeds in trouble", common)

    p = _add(sub, "alerts", "alerts:alerts", "past alerts with their deliveries", common)
    p.add_argument("--pair", help="only this pair, like PK-IR")
    p.add_argument("--limit", type=_at_least_one, default=50, help="at most N alerts (default 50)")
    p.add_argument("--format", choices=["table", "jsonl"], default="table")
    return parser


def resolve(target: str) -> Handler:
    module_name, func_name = target.split(":")
    module = importlib.import_module(f"monitor.commands.{module_name}")
    handler: Handler = getattr(module, func_name)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return resolve(args.target)(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
