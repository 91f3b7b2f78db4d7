# fish completion for netwhy: the commands (short forms understood, and
# offered when no command fits), every option, -n's namespaces (ip netns
# list), pid:PID of the processes in other namespaces, docker:/podman:,
# interface names after dev, route's table names, --color's and --source's
# values, and the ports that listen here for `port` and `ports`. Same
# behaviour as netwhy.bash; the interface and port lists come from netwhy
# itself, for the same reasons (see there).

set -l netwhy_aliases l li lin a ad address r ro rou rout

# The command typed so far (short forms mapped), or nothing.
function __netwhy_command
    set -l tokens (commandline -opc)
    set -l i 2
    while test $i -le (count $tokens)
        switch $tokens[$i]
            case -n --netns
                set i (math $i + 1)
            case --color
                if contains -- "$tokens[(math $i + 1)]" auto always never
                    set i (math $i + 1)
                end
            case '-*'
            case link l li lin
                echo link; return
            case addr a ad address
                echo addr; return
            case route r ro rou rout
                echo route; return
            case ports port url snapshot
                echo $tokens[$i]; return
            case '*'
                return
        end
        set i (math $i + 1)
    end
end

function __netwhy_no_command
    test -z "$(__netwhy_command)"
end

function __netwhy_using
    contains -- "$(__netwhy_command)" $argv
end

# The command's own words after the command (options left out).
function __netwhy_args
    set -l tokens (commandline -opc)
    set -l seen 0
    set -l i 2
    while test $i -le (count $tokens)
        set -l t $tokens[$i]
        switch $t
            case -n --netns --source --host --timeout --snapshot --wait --cacert
                set i (math $i + 1)
            case --color
                if contains -- "$tokens[(math $i + 1)]" auto always never
                    set i (math $i + 1)
                end
            case '-*'
            case '*'
                if test $seen = 1
                    echo $t
                end
                set seen 1
        end
        set i (math $i + 1)
    end
end

function __netwhy_prev_is
    set -l tokens (commandline -opc)
    contains -- "$tokens[-1]" $argv
end

# Runs the netwhy that was typed, in -n's namespace when one was typed; quiet.
function __netwhy_run
    set -l tokens (commandline -opc)
    set -l ns
    for i in (seq 2 (count $tokens))
        switch $tokens[$i]
            case -n --netns
                set ns -n $tokens[(math $i + 1)]
            case '--netns=*'
                set ns -n (string replace -- --netns= '' $tokens[$i])
        end
    end
    set -l nw $tokens[1]
    command $nw $ns $argv 2>/dev/null
end

function __netwhy_netns
    set -l cur (commandline -ct)
    if string match -q -- 'pid:*' $cur
        set -l self (readlink /proc/self/ns/net 2>/dev/null)
        # fish globs have no [0-9]; a glob in `set` that matches nothing is no error
        set -l links /proc/*/ns/net
        find $links -maxdepth 0 -printf '%h %l\n' 2>/dev/null |
            awk -v self=$self '$2 != "" && $2 != self { split($1, p, "/"); if (p[3] ~ /^[0-9]+$/) print p[3], $2 }' |
            sort -n | awk '!seen[$2]++ { print "pid:" $1 "\tprocess in another network namespace" }'
        return
    end
    ip netns list 2>/dev/null | awk '{ print $1 "\tnetwork namespace" }'
    printf '%s\t%s\n' pid: 'the namespace of process PID' docker: 'a docker container' podman: 'a podman container'
end

function __netwhy_ifnames
    __netwhy_run -j link | awk 'BEGIN { RS = "\"ifname\":\"" } NR > 1 { sub(/".*/, ""); print }'
end

function __netwhy_ports
    set -l proto
    switch "$(__netwhy_command)"
        case port
            set proto -t
            contains -- --udp (commandline -opc); and set proto -u
        case ports
            contains -- -t (commandline -opc); or contains -- --tcp (commandline -opc); and set proto -t
            contains -- -u (commandline -opc); or contains -- --udp (commandline -opc); and set proto -u
    end
    __netwhy_run -j ports $proto |
        awk 'BEGIN { RS = "\"port\":" } NR > 1 && match($0, /^[0-9]+/) { print substr($0, 1, RLENGTH) }' |
        sort -un | string replace -r '$' '\tlistening port'
end

function __netwhy_tables
    printf '%s\n' main local default all
    set -l files /etc/iproute2/rt_tables /etc/iproute2/rt_tables.d/*.conf
    cat $files 2>/dev/null |
        awk '$1 ~ /^[0-9]+$/ && NF >= 2 { print $2 }'
end

# The first positional of port / ports: nothing typed after the command yet.
function __netwhy_wants_port
    __netwhy_using port ports; and test (count (__netwhy_args)) -eq 0
end

# link/addr positionals: [show] [dev] IFNAME [up]
function __netwhy_link_words
    set -l args (__netwhy_args)
    if test "$args[-1]" = dev
        __netwhy_ifnames
        return
    end
    set -l rest $args
    if contains -- "$rest[1]" show list lst sh ls
        set -e rest[1]
    end
    set -l dev 0
    set -l up 0
    set -l skip 0
    for w in $rest
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case up
                set up 1
            case dev
                set dev 1
                set skip 1
            case '*'
                set dev 1
        end
    end
    test (count $args) -eq 0; and printf '%s\t%s\n' show 'list the devices (the default)'
    test $dev = 0; and printf '%s\t%s\n' dev 'the device named next'
    test $up = 0; and printf '%s\t%s\n' up 'only devices that are up'
    test $dev = 0; and __netwhy_ifnames
end

# route positionals: [show] [table T] [dev IFNAME] | get ADDRESS
function __netwhy_route_words
    set -l args (__netwhy_args)
    switch "$args[-1]"
        case dev oif
            __netwhy_ifnames
            return
        case table
            __netwhy_tables | sort -u
            return
    end
    test "$args[1]" = get; and return
    if test (count $args) -eq 0
        printf '%s\t%s\n' show 'list routes (the default)' get 'the route the kernel would use for an address'
    end
    contains -- table $args; or printf '%s\t%s\n' table 'a routing table (all: every table)'
    contains -- dev $args; or contains -- oif $args; or printf '%s\t%s\n' dev 'routes through this device'
end

# Short forms only when no command starts with what was typed ("addre").
function __netwhy_aliases_wanted
    __netwhy_no_command; or return 1
    set -l cur (commandline -ct)
    for c in link addr route ports port url snapshot
        string match -q -- "$cur*" $c; and return 1
    end
    return 0
end

complete -c netwhy -f

# Global options: before or after the command (netwhy's commands fall through).
complete -c netwhy -s h -l help -d 'print help and exit'
complete -c netwhy -s V -l version -d 'print the version and exit'
complete -c netwhy -s 4 -l ipv4 -d 'IPv4 only'
complete -c netwhy -s 6 -l ipv6 -d 'IPv6 only'
complete -c netwhy -s j -l json -d 'JSON output (the shape of ip -j for link/addr/route)'
complete -c netwhy -s p -l pretty -d 'indent JSON'
complete -c netwhy -s b -l brief -d 'one line per interface, like ip -br'
complete -c netwhy -s n -l netns -x -a '(__netwhy_netns)' -d "work in a network namespace, a process's or a container's"
complete -c netwhy -l color -x -a 'auto always never' -d 'colour the output'

complete -c netwhy -n __netwhy_no_command -a link -d 'network devices, like ip link (l, li, lin)'
complete -c netwhy -n __netwhy_no_command -a addr -d 'addresses, like ip addr (a, ad, address)'
complete -c netwhy -n __netwhy_no_command -a route -d 'routes, like ip route (r, ro, rou, rout)'
complete -c netwhy -n __netwhy_no_command -a ports -d 'listening sockets and the processes holding them'
complete -c netwhy -n __netwhy_no_command -a port -d 'why PORT is or is not reachable, and the fix'
complete -c netwhy -n __netwhy_no_command -a url -d 'why curl URL fails when the port is open: proxy, TLS, the HTTP answer'
complete -c netwhy -n __netwhy_no_command -a snapshot -d 'everything the diagnosis reads, as JSON'
complete -c netwhy -n __netwhy_aliases_wanted -a "$netwhy_aliases" -d 'short form'

complete -c netwhy -n '__netwhy_using link addr' -a '(__netwhy_link_words)'
complete -c netwhy -n '__netwhy_using route' -a '(__netwhy_route_words)'
complete -c netwhy -n __netwhy_wants_port -a '(__netwhy_ports)'

complete -c netwhy -n '__netwhy_using ports' -s t -l tcp -d 'TCP only'
complete -c netwhy -n '__netwhy_using ports' -s u -l udp -d 'UDP only'
complete -c netwhy -n '__netwhy_using ports' -l source -x -a 'auto\t"sock_diag, else /proc/net" netlink\tsock_diag proc\t/proc/net' -d 'where sockets come from'

complete -c netwhy -n '__netwhy_using port' -l host -x -a '(__fish_print_hostnames)' -d 'the name or address clients use'
complete -c netwhy -n '__netwhy_using port' -l udp -d 'UDP instead of TCP'
complete -c netwhy -n '__netwhy_using port' -l timeout -x -d 'seconds the connect probe waits (default 2)'
complete -c netwhy -n '__netwhy_using port' -l no-probe -d 'do not connect to a remote HOST'
complete -c netwhy -n '__netwhy_using port' -l snapshot -r -F -d 'diagnose a snapshot file (netwhy snapshot -j) instead of this host'
complete -c netwhy -n '__netwhy_using port' -l wait -x -d 'wait until PORT is reachable, at most SECONDS'

complete -c netwhy -n '__netwhy_using url' -s k -l insecure -d 'certificate problems do not fail the verdict (curl -k)'
complete -c netwhy -n '__netwhy_using url' -l timeout -x -d 'seconds each step waits (default 5)'
complete -c netwhy -n '__netwhy_using url' -l cacert -r -F -d 'trust the CA certificates in this PEM file'
