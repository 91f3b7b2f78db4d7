# Prints what zsh's completion offers for a command line, one candidate a line:
#   zsh -f zsh_complete.zsh FPATH_DIR 'netwhy port '
# An interactive zsh in a pseudo-terminal (zpty) loads compinit with FPATH_DIR
# first in $fpath, types the line and a TAB; a compadd wrapper prints each
# match (after zsh's own prefix matching) between two NUL lines.
zmodload zsh/zpty || exit 1
zpty z zsh -f -i
zpty -w z "PS1='' PROMPT='' RPROMPT=''"
zpty -w z "fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'bindkey "^I" complete-word'
zpty -w z 'zstyle ":completion:*" list-grouped false; zstyle ":completion:*" insert-tab false'
zpty -w z 'null-line () { echo -E - $'"'"'\0'"'"' }; compprefuncs=( null-line ); comppostfuncs=( null-line exit )'
zpty -w z 'compadd () {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  typeset -a __hits; builtin compadd -A __hits "$@"
  local h; for h in $__hits; do echo -E - "CAND:$h"; done
  builtin compadd "$@"
}'
zpty -n -w z "$2"$'\t'
integer nuls=0
local line
while zpty -r z line; do
  if [[ $line == *$'\0'* ]]; then
    (( nuls++ )) && break
    continue
  fi
  (( nuls )) && [[ $line == CAND:* ]] && print -r -- ${${${line#CAND:}%$'\r'}%% #}
done
zpty -d z
