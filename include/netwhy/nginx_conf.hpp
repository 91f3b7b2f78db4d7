// Where nginx sends the requests it proxies, from nginx's own configuration:
// for `netwhy url` answering "502 Bad Gateway from nginx: its upstream
// 127.0.0.1:9000 is down". Read as nginx 1.22.1 (Debian 12's) reads it
// (release-1.22.1 of github.com/nginx/nginx):
//
//  * src/core/ngx_conf_file.c, ngx_conf_read_token() and ngx_conf_parse():
//    the grammar, see parse_nginx_config().
//  * ngx_conf_include(), src/os/unix/ngx_files.c ngx_open_glob(): include,
//    see read_nginx_config().
//  * src/core/nginx.c, ngx_get_options() and ngx_process_options(): -c and
//    -p, see nginx_conf_from_cmdline().
//  * src/core/ngx_inet.c ngx_parse_url(), src/http/ngx_http_upstream.c
//    ngx_http_upstream_add() and ngx_http_upstream_server(), the *_pass
//    directives of src/http/modules: see upstreams_for_port().
//
// Parsers take text and are pure; read_nginx_config() is the one reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netwhy/error.hpp"

namespace netwhy {

// One directive: "listen 8080 default_server;" or "location /api/ { ... }".
// Arguments as nginx passes them to the directive's handler: quotes removed,
// \" \' \\ \t \r \n unescaped, other backslashes kept, variables ("$host")
// left as text.
struct NginxDirective {
  std::string name;
  std::vector<std::string> args;
  std::vector<NginxDirective> block;  // what "{ ... }" holds
  bool has_block = false;             // "{ }" is a block, empty
  std::string file;                   // the file it was read from, as named to the parser
  int line = 0;                       // where its name begins (1-based)
  bool operator==(const NginxDirective&) const = default;
};

// Bounds of what is parsed: configurations past them are refused, not cut.
inline constexpr int nginx_max_depth = 64;                     // blocks in blocks, across includes
inline constexpr std::size_t nginx_max_parameter = 4095;       // nginx's own: "too long parameter"
inline constexpr std::size_t nginx_max_directives = 1U << 18;  // per parse; for read_nginx_config, in all files
inline constexpr std::size_t nginx_max_files = 256;            // read_nginx_config: the main file and includes
inline constexpr std::size_t nginx_max_file_bytes = 1U << 20;  // each
inline constexpr std::size_t nginx_max_total_bytes = 16U << 20;

// nginx's configuration grammar, as ngx_conf_read_token() reads it: words
// separated by blanks (space, tab, CR, LF); ';' ends a directive, '{' opens
// its block and '}' closes it; '#' at the start of a word comments to the
// end of the line ("a#b" is one word); "..." and '...' quote, and a quoted
// word must be followed by a blank, ';', '{' or ')' (nginx: unexpected "b"
// for "a"b); a backslash makes the next byte part of the word; "${" does not
// open a block. Any byte is data (NULs included): garbage gives an error or
// odd words, never a crash.
//
// Errors read as nginx's, with the file and the line where nginx would
// report them: `unexpected "}" in FILE:LINE`, `unexpected end of file,
// expecting ";" or "}" in FILE:LINE`, `unexpected end of file, expecting "}"
// in FILE:LINE`, `too long parameter "xxxxxxxxxx..." started in FILE:LINE`
// (a word, or a comment, of 4096 bytes or more: nginx refuses those too),
// and netwhy's own bounds: `blocks nested more than 64 deep in FILE:LINE`,
// `more than 262144 directives in FILE:LINE`. FILE is escaped for a terminal.
[[nodiscard]] Expected<std::vector<NginxDirective>> parse_nginx_config(std::string_view text,
                                                                       std::string_view file_name);

// The whole configuration as nginx loads it from its main file.
struct NginxConfig {
  std::vector<NginxDirective> directives;  // includes expanded in place
  std::vector<std::string> files;          // every file read, main file first, in reading order
  std::vector<std::string> notes;          // what was not read, and why (escaped for a terminal)
};

// Reads main_file and every file it includes, expanding each "include PATH;"
// in place, in any block, as ngx_conf_include() does:
//  * a relative PATH is relative to the main file's directory (nginx's
//    conf_prefix: the directory of the -c file);
//  * a PATH with any of "*?[" is a glob(3) pattern, its matches in byte
//    order (nginx never calls setlocale, so glob sorts as in the C locale);
//    '*' does not match a leading dot; no match is no file, not an error;
//  * an included file must be balanced by itself ("}" closes only what the
//    same file opened).
// Only the main file is required: a main file that can't be read or parsed
// is the error. An included file that can't be read (missing, not a regular
// file, over 1 MiB, a parse error) becomes a note naming the include's
// FILE:LINE and is skipped; nginx would refuse to start with it, so a
// running nginx read an older version. An include that would read a file
// already being read (a loop, by device and inode) is a note and skipped;
// the same file included twice side by side is read twice, as nginx does.
// Past 256 files, 16 MiB or 262144 directives in all, the rest is a note
// and not read. An included file's blocks count at the depth of its include
// towards the 64 levels: a file that goes deeper is a note.
[[nodiscard]] Expected<NginxConfig> read_nginx_config(const std::string& main_file);

// Where nginx's main configuration file is.
struct NginxLocation {
  std::string main_file;  // "/etc/nginx/nginx.conf"
  std::string prefix;     // "/usr/share/nginx/": nginx's -p, with the '/' nginx adds
};

// From nginx's command line as netwhy keeps it (procmap.hpp parse_cmdline:
// arguments joined by spaces). nginx rewrites its master's argv to "nginx:
// master process " and the original arguments joined by spaces:
// "nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf -g daemon
// on; master_process on;". The original "/usr/sbin/nginx -c FILE" form is
// read too. Options as ngx_get_options() reads them: "-c FILE", "-cFILE",
// "-p PREFIX", "-pPREFIX", letters grouped ("-tqc FILE"); the argument of
// -g, -e and -s is skipped; words that are not options are skipped (the
// rest of a -g value, which held spaces).
// Defaults are Debian's compiled-in paths: /etc/nginx/nginx.conf and the
// prefix /usr/share/nginx/. A relative -c is relative to the prefix; a
// relative -p, and so the result, is relative to nginx's working directory
// (/proc/PID/cwd). A worker's "nginx: worker process" says nothing: the
// defaults (ask its parent, the master). A path with a space in it can't be
// told from two words and is cut at the space.
[[nodiscard]] NginxLocation nginx_conf_from_cmdline(std::string_view cmdline);

// Where one *_pass directive of a server block sends requests.
struct NginxUpstream {
  std::string host;                      // "127.0.0.1", "::1" (no brackets), "localhost"; "" for a Unix socket
  std::optional<std::uint16_t> port;     // nullopt for a Unix socket, undecidable or no port
  std::optional<std::string> unix_path;  // "/run/app.sock" for unix:/run/app.sock
  // How nginx talks to it: "http", "https", "fastcgi", "uwsgi", "suwsgi",
  // "scgi", "grpc", "grpcs", "memcached".
  std::string protocol;
  std::string directive_text;            // "proxy_pass http://127.0.0.1:9000" (escape it to show it)
  std::string location;                  // "location /api/": the innermost location around it; "" if none
  std::string file;                      // of the *_pass directive
  int line = 0;
  // The target has a variable before its path ("http://$backend",
  // "http://$host:9000"): nginx decides per request, and netwhy can't. host
  // holds that part as written, port is nullopt. $request_uri, $uri and
  // $document_uri begin with '/': "http://127.0.0.1:9000$request_uri" is
  // decided (127.0.0.1:9000), has_variables false.
  bool has_variables = false;
  // From "upstream backend { server 127.0.0.1:9000; }" for "http://backend":
  // the block's name and this server's line in it.
  std::optional<std::string> upstream_block;
  std::string server_text;  // "server 127.0.0.1:9000 weight=5"; "" when not from an upstream block
  std::string server_file;
  int server_line = 0;
  bool down = false;    // "down": nginx sends it nothing
  bool backup = false;  // "backup": only when the others fail
  bool operator==(const NginxUpstream&) const = default;
};

// The upstreams of the http server blocks that listen on `port`, in
// configuration order, each *_pass directive of their locations (nested
// locations, "if" and "limit_except" blocks included): proxy_pass,
// fastcgi_pass, uwsgi_pass, scgi_pass, grpc_pass, memcached_pass.
//
// Listening: "listen 8080", "listen 127.0.0.1:8080", "listen *:8080 ssl",
// "listen [::]:8080", "listen 127.0.0.1" (port 80), "listen localhost:8080";
// a server block without listen listens on 80 (nginx's *:80 as root; an
// nginx started as another user uses 8000: not modelled). The address part
// is not compared: a connection to 10.0.0.1:8080 is taken to reach the
// servers of "listen 127.0.0.1:8080" too. "unix:" listens and port ranges
// never match.
//
// With no host, every server block on the port counts. With a host (the
// request's Host, without its port) the one nginx picks
// (ngx_http_find_virtual_server), case-insensitive, one trailing dot
// ignored: the first server_name equal to host, else the longest
// "*.example.com" that host ends in (".example.com" also matches
// example.com itself), else the longest "www.example.*" it begins with, else the
// port's default server: the first with "listen ... default_server" on the
// port, or the first on the port. Regular expressions ("~^api\.") are not
// evaluated: when nothing above matches, every server block with one is
// counted after the default server, since nginx may pick any of them.
// "$hostname" is not expanded.
//
// Targets as ngx_parse_url() reads them: "http://127.0.0.1:9000/",
// "https://localhost" (port 443), "http://[::1]:9000", "http://unix:/run/app.sock:/api/",
// "fastcgi_pass unix:/run/php/php8.2-fpm.sock", "grpc://127.0.0.1:50051".
// Without a port, http:// is 80 and https:// 443; the other schemes have no
// default (nginx refuses them: port nullopt). A target without a port whose
// host names an http "upstream" block (case-insensitive, defined anywhere in
// http) gives one entry per "server" of the block, whose ports default to 80
// whatever the scheme. A target that nginx would refuse (no scheme for
// proxy_pass, a bad port) is left out. Host names are not resolved.
[[nodiscard]] std::vector<NginxUpstream> upstreams_for_port(const NginxConfig& config, std::uint16_t port,
                                                            std::optional<std::string_view> host = std::nullopt);

}  // namespace netwhy
