"""`vipfs completion bash`: a bash completion script, written from the argparse parser.

Owns: rendering the parser's commands, options and choices as a bash completion script.
Imports: `vipfs.manpage` (the walk over the parser) and `vipfs.cli` (the parser), when it runs.

The script is data (one `case` branch per command) over a fixed function, so what it offers is
exactly what the parser accepts: `source <(vipfs completion bash)`, or save it as
~/.local/share/bash-completion/completions/vipfs. Where an option takes a value without fixed
choices, and for positionals, it offers nothing and bash's `-o default` completes file names.
"""

from __future__ import annotations

import argparse
from shlex import quote

from vipfs.manpage import commands

SHELLS = ("bash",)

_DRIVER = """\
_vipfs() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev="" path="" subs opts takes words choices word i
    local skip=0
    _vipfs_spec ""
    for ((i = 1; i < COMP_CWORD; i++)); do  # find the command the words name so far
        word=${COMP_WORDS[i]}
        if ((skip)); then skip=0; continue; fi
        if [[ $word == -* ]]; then
            [[ " $takes " == *" $word "* ]] && skip=1  # its value is the next word
            continue
        fi
        if [[ " $subs " == *" $word "* ]]; then
            path=${path:+$path }$word
            _vipfs_spec "$path"
        fi
    done
    COMPREPLY=()
    ((COMP_CWORD > 1)) && prev=${COMP_WORDS[COMP_CWORD-1]}
    if [[ $prev == -* && " $takes " == *" $prev "* ]]; then
        _vipfs_choices "$path" "$prev" && COMPREPLY=($(compgen -W "$choices" -- "$cur"))
        return 0
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [[ -n $subs$words ]]; then
        COMPREPLY=($(compgen -W "$subs $words" -- "$cur"))
    fi
}
complete -o default -F _vipfs vipfs
"""


def bash(parser: argparse.ArgumentParser) -> str:
    """The completion script for `parser` (the `vipfs` one)."""
    spec = [
        "_vipfs_spec() {  # $1: a command path; sets subs, opts, takes, words",
        '    case "$1" in',
    ]
    picks = [
        "_vipfs_choices() {  # $1: a command path, $2: an option; sets choices",
        '    case "$1 $2" in',
    ]
    for command in commands(parser):
        path = " ".join(command.path)
        opts = [o for a in command.options for o in a.option_strings]
        takes = [o for a in command.options if a.nargs != 0 for o in a.option_strings]
        label = quote(path) if path else '""'
        subs = quote(" ".join(command.subcommands))
        words = quote(" ".join(_choices(a) for a in command.positionals).strip())
        spec.append(
            f"        {label}) subs={subs} opts={quote(' '.join(opts))}"
            f" takes={quote(' '.join(takes))} words={words} ;;"
        )
        for action in command.options:
            if action.nargs != 0 and _choices(action):
                for option in action.option_strings:
                    label = quote(f"{path} {option}")
                    picks.append(f"        {label}) choices={quote(_choices(action))} ;;")
    spec += ['        *) subs="" opts="" takes="" words="" ;;', "    esac", "}"]
    picks += ["        *) return 1 ;;", "    esac", "}"]
    head = "# bash completion for vipfs, generated from its parser by `vipfs completion bash`"
    return "\n".join([head, *spec, *picks, _DRIVER])


def _choices(action: argparse.Action) -> str:
    """An action's fixed values as one word list ("" when any value goes)."""
    return " ".join(str(c) for c in action.choices or () if str(c))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete for")


def run(args: argparse.Namespace) -> int:
    del args  # bash is the one shell so far
    from vipfs.cli import build_parser

    print(bash(build_parser()), end="")
    return 0
