# bash completion for netwhy                                 -*- shell-script -*-
#
# Completes the commands (link, addr, route, ports, port, url, snapshot; their
# short forms when typed), every option, -n's namespaces (ip netns list) and
# pid:/docker:/podman:, interface names after dev, route's table names,
# --color's and --source's values, and the ports that listen here for
# `port` and `ports`.
#
# Self-contained: bash-completion's helpers are used when loaded, never
# required. The lists below must match `netwhy --help` and `netwhy CMD --help`:
# tests/integration/test_completions.py compares them.

_netwhy_commands="link addr route ports port url snapshot"
# Short forms (CLI11 aliases in src/cli/main.cpp), with the command each names.
_netwhy_aliases="l:link li:link lin:link a:addr ad:addr address:addr r:route ro:route rou:route rout:route"
# Global options; -h/--help and -V/--version work after a command too.
_netwhy_global_opts="-h --help -V --version -4 --ipv4 -6 --ipv6 -j --json -p --pretty -b --brief -n --netns --color"
_netwhy_ports_opts="-t --tcp -u --udp --source"
_netwhy_port_opts="--host --udp --timeout --no-probe --snapshot --wait"
_netwhy_url_opts="-k --insecure --timeout --cacert"

# The command a word names ("a" -> addr), or nothing.
_netwhy_command_of() {
    local w=$1 c
    for c in $_netwhy_commands; do
        [[ $w == "$c" ]] && { printf '%s\n' "$c"; return; }
    done
    for c in $_netwhy_aliases; do
        [[ $w == "${c%%:*}" ]] && { printf '%s\n' "${c#*:}"; return; }
    done
}

# Network namespace names, as `ip netns list` prints them ("blue (id: 3)").
_netwhy_netns_names() {
    ip netns list 2>/dev/null | awk '{ print $1 }'
}

# pid:PID for one process of each network namespace other than ours (the
# lowest pid), for -n pid:. Without root, other users' processes are unseen.
_netwhy_netns_pids() {
    local self
    self=$(readlink /proc/self/ns/net 2>/dev/null) || return 0
    find /proc/[0-9]*/ns/net -maxdepth 0 -printf '%h %l\n' 2>/dev/null |
        awk -v self="$self" '$2 != "" && $2 != self { split($1, p, "/"); print p[3], $2 }' |
        sort -n | awk '!seen[$2]++ { print "pid:" $1 }'
}

# Interface names, in -n's namespace when one was typed. netwhy's own JSON
# rather than ip or /sys/class/net: it follows -n into pid: and container
# namespaces the same way the command will. Quiet on any error.
_netwhy_ifnames() {
    "${_netwhy_cmd:-netwhy}" "${_netwhy_ns[@]}" -j link 2>/dev/null |
        awk 'BEGIN { RS = "\"ifname\":\"" } NR > 1 { sub(/".*/, ""); print }'
}

# The ports that listen here (or in -n's namespace), for `port` and `ports`.
# netwhy's own view rather than ss: it is the answer the command will give,
# it reads the namespace -n names (pid:, docker:, podman: too), and it needs
# no ss. The JSON's "port" keys are found with awk (no jq, no python): JSON
# escapes every quote inside strings, so a command line cannot fake one.
# `netwhy ports` stays fast on busy hosts (see README, Speed); anything on
# stderr, a missing binary or a refusal (no root for -n) gives no candidates.
_netwhy_listening_ports() {  # $1: -t, -u or nothing
    "${_netwhy_cmd:-netwhy}" "${_netwhy_ns[@]}" -j ports $1 2>/dev/null |
        awk 'BEGIN { RS = "\"port\":" } NR > 1 && match($0, /^[0-9]+/) { print substr($0, 1, RLENGTH) }' |
        sort -un
}

# Route table names: ip's built-ins, "all", and /etc/iproute2's files.
_netwhy_route_tables() {
    printf '%s\n' main local default all
    cat /etc/iproute2/rt_tables /etc/iproute2/rt_tables.d/*.conf 2>/dev/null |
        awk '$1 ~ /^[0-9]+$/ && NF >= 2 { print $2 }'
}

# Adds the candidates of a list (words or lines) that start with $cur.
_netwhy_add() {
    local -a list
    local w
    read -r -d '' -a list <<<"$1"   # split at blanks and newlines, no globbing
    for w in "${list[@]}"; do
        [[ $w == "$cur"* ]] && COMPREPLY+=("$w")
    done
    return 0
}

_netwhy() {
    COMPREPLY=()
    # The words up to the cursor, split at blanks only: "-n pid:1", "--color=al"
    # stay one word each (bash also splits at ':' and '='; see the end).
    local line=${COMP_LINE:0:COMP_POINT}
    local -a words
    read -r -a words <<<"$line"
    local cur=""
    [[ $line == *[![:space:]] ]] && { cur=${words[-1]}; unset 'words[-1]'; }
    local prev=""
    ((${#words[@]} > 0)) || return 0   # the command name itself: not ours
    prev=${words[-1]}

    # The netwhy that was typed (./build/netwhy, ~/bin/netwhy) answers.
    local _netwhy_cmd=${words[0]:-netwhy}
    [[ $_netwhy_cmd == "~/"* ]] && _netwhy_cmd=$HOME/${_netwhy_cmd#"~/"}
    local -a _netwhy_ns=()
    local cmd="" i w n=${#words[@]}
    local -a args=()        # the command's own words (link/addr/route/ports/port)
    local udp="" tcp=""
    for ((i = 1; i < n; i++)); do
        w=${words[i]}
        case $w in
            -n | --netns)
                ((i + 1 < n)) && _netwhy_ns=(-n "${words[i + 1]}")
                ((i++)) ;;
            --netns=*) _netwhy_ns=(-n "${w#--netns=}") ;;
            --color | -color | -c)
                [[ ${words[i + 1]-} == @(auto|always|never) ]] && ((i++)) ;;
            --source | --host | --timeout | --snapshot | --wait | --cacert)
                [[ -n $cmd ]] && ((i++)) ;;
            -u | --udp) udp=-u ;;
            -t | --tcp) tcp=-t ;;
            -*) ;;
            *)
                if [[ -z $cmd ]]; then
                    cmd=$(_netwhy_command_of "$w")
                    [[ -z $cmd ]] && return 0   # not a command: netwhy will say so
                else
                    args+=("$w")
                fi ;;
        esac
    done

    # The value of the option before the cursor.
    case $prev in
        -n | --netns)
            _netwhy_add "$(_netwhy_netns_names)"
            if [[ $cur == pid:* ]]; then
                _netwhy_add "$(_netwhy_netns_pids)"
            else
                _netwhy_add "pid: docker: podman:"
            fi
            _netwhy_fix_colons
            return 0 ;;
        --color | -color | -c)
            # Optional: a word that is no colour is the next argument.
            if [[ -z $cur || auto == "$cur"* || always == "$cur"* || never == "$cur"* ]]; then
                _netwhy_add "auto always never"
                return 0
            fi ;;
        --source | --host | --timeout | --snapshot | --wait | --cacert)
            if [[ $prev == --source && $cmd == ports ]]; then
                _netwhy_add "auto netlink proc"
                return 0
            elif [[ $prev == --host && $cmd == port ]]; then
                if declare -F _known_hosts_real >/dev/null; then
                    _known_hosts_real -- "$cur"
                else
                    COMPREPLY=($(compgen -A hostname -- "$cur"))
                fi
                _netwhy_fix_colons
                return 0
            elif [[ ($prev == --timeout || $prev == --wait) && $cmd == @(port|url) ]]; then
                return 0   # seconds: nothing to offer
            elif [[ ($prev == --snapshot && $cmd == port) || ($prev == --cacert && $cmd == url) ]]; then
                if declare -F _filedir >/dev/null; then
                    _filedir
                else
                    compopt -o filenames 2>/dev/null
                    COMPREPLY=($(compgen -f -- "$cur"))
                fi
                return 0
            fi ;;
    esac

    case $cur in
        --color=*)
            _netwhy_add "$(printf -- '--color=%s\n' auto always never)" ;;
        --netns=*)
            _netwhy_add "$(_netwhy_netns_names | sed 's/^/--netns=/')"
            if [[ $cur == --netns=pid:* ]]; then
                _netwhy_add "$(_netwhy_netns_pids | sed 's/^/--netns=/')"
            else
                _netwhy_add "--netns=pid: --netns=docker: --netns=podman:"
            fi ;;
        --source=*)
            [[ $cmd == ports ]] && _netwhy_add "--source=auto --source=netlink --source=proc" ;;
        -*)
            _netwhy_add "$_netwhy_global_opts"
            case $cmd in
                ports) _netwhy_add "$_netwhy_ports_opts" ;;
                port) _netwhy_add "$_netwhy_port_opts" ;;
                url) _netwhy_add "$_netwhy_url_opts" ;;
            esac ;;
        *)
            case $cmd in
                "")
                    _netwhy_add "$_netwhy_commands"
                    # A short form only when no command starts so: "addre" -> address.
                    if [[ ${#COMPREPLY[@]} -eq 0 ]]; then
                        for w in $_netwhy_aliases; do
                            _netwhy_add "${w%%:*}"
                        done
                    fi ;;
                link | addr)
                    local j=0 dev="" up=""
                    [[ ${args[0]-} == @(show|list|lst|sh|ls) ]] && j=1
                    for ((; j < ${#args[@]}; j++)); do
                        case ${args[j]} in
                            up) up=1 ;;
                            dev) dev=1; ((j++)) ;;
                            *) dev=1 ;;
                        esac
                    done
                    if [[ $prev == dev ]]; then
                        _netwhy_add "$(_netwhy_ifnames)"
                    else
                        ((${#args[@]} == 0)) && _netwhy_add show
                        [[ -z $dev ]] && _netwhy_add "dev"
                        [[ -z $up ]] && _netwhy_add up
                        [[ -z $dev ]] && _netwhy_add "$(_netwhy_ifnames)"
                    fi ;;
                route)
                    if [[ ${args[0]-} == get ]]; then
                        :   # an address: nothing to offer
                    elif [[ $prev == @(dev|oif) ]]; then
                        _netwhy_add "$(_netwhy_ifnames)"
                    elif [[ $prev == table ]]; then
                        _netwhy_add "$(_netwhy_route_tables | sort -u)"
                    else
                        local j=0 table="" dev=""
                        [[ ${args[0]-} == @(show|list|lst|sh|ls) ]] && j=1
                        for ((; j < ${#args[@]}; j++)); do
                            case ${args[j]} in
                                table) table=1; ((j++)) ;;
                                dev | oif) dev=1; ((j++)) ;;
                            esac
                        done
                        ((${#args[@]} == 0)) && _netwhy_add "show get"
                        [[ -z $table ]] && _netwhy_add table
                        [[ -z $dev ]] && _netwhy_add dev
                    fi ;;
                ports)
                    ((${#args[@]} == 0)) && _netwhy_add "$(_netwhy_listening_ports "$tcp$udp")" ;;
                port)
                    # port takes TCP unless --udp; offer what that protocol listens on.
                    ((${#args[@]} == 0)) && _netwhy_add "$(_netwhy_listening_ports "${udp:--t}")" ;;
                url)
                    # the URL: its schemes to start with
                    ((${#args[@]} == 0)) && _netwhy_add "http:// https://" ;;
                snapshot) ;;
            esac ;;
    esac
    _netwhy_fix_colons
    return 0
}

# bash splits the word at ':' and '=' (COMP_WORDBREAKS) and replaces only the
# part after the last one: "-n pid:" completes "", "--color=al" completes
# "al". Candidates were made for the whole blank-separated word; cut them to
# the part bash replaces.
_netwhy_fix_colons() {
    local tail=$cur c i
    local breaks=${COMP_WORDBREAKS// /}
    breaks=${breaks//$'\t'/}
    breaks=${breaks//$'\n'/}
    for ((i = ${#cur} - 1; i >= 0; i--)); do
        c=${cur:i:1}
        if [[ -n $breaks && $breaks == *"$c"* ]]; then
            tail=${cur:i+1}
            break
        fi
    done
    local head=${cur:0:${#cur}-${#tail}}
    if [[ -n $head ]]; then
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[i]=${COMPREPLY[i]#"$head"}
        done
    fi
    # A prefix such as pid: or --netns=docker: wants more, not a space.
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *: ]]; then
        compopt -o nospace 2>/dev/null
    fi
}

complete -F _netwhy netwhy
