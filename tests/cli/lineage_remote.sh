#!/usr/bin/env bash
# Remote checkpoints against a real HTTP server with Range support: a private nginx instance on a
# loopback port (its own config, prefix and logs in a temporary folder; never the system service)
# serving a generated model. Checks that inventory/arch/plan on the URL print what they print on
# the folder while reading under 1% of the model's bytes (nginx's own $body_bytes_sent), that
# `lineage fetch` killed mid-way resumes to byte-identical shards (compare refuses the folder in
# between), and that a server lying about a shard's size gives a clear error with nothing kept.
set -u
lineage=$1
repo=$2
py=/usr/bin/python3
fail() { echo "FAIL: $*"; exit 1; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || fail "nginx is not installed (scripts/install-deps.sh installs it)"
tmp=$(mktemp -d)
ngx_pid=""
fetch_pid=""
cleanup() {
  [ -n "$fetch_pid" ] && kill -9 "$fetch_pid" 2>/dev/null
  if [ -n "$ngx_pid" ]; then kill "$ngx_pid" 2>/dev/null; wait "$ngx_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---- the model: big enough that 1% means something (21 MB; its headers and index are ~30 kB)
www="$tmp/www"
"$lineage" synth --scenario base --out "$www/m" --set hidden_size=512 --set moe_intermediate_size=128 >/dev/null ||
  fail "synth"
shards=$(cd "$www/m" && ls model-*.safetensors)
[ "$(wc -w <<<"$shards")" -ge 2 ] || fail "expected several shards: $shards"
(cd "$www/m" && for f in $shards; do sha256sum "$f" >"$f.sha256"; done)
model_bytes=$(cat "$www/m"/* | wc -c)
first=$(head -1 <<<"$shards")
# Liars: (a) /short/m serves a first shard cut short (header and index unchanged);
# (b) /switch/m serves the true file to header reads but the cut one to a whole-file download;
# (c) /badsum/m publishes a wrong SHA-256 sidecar.
mkdir -p "$www/short" "$www/switch" "$tmp/liar/switch" "$www/badsum"
cp -r "$www/m" "$www/short/m" && truncate -s -1000 "$www/short/m/$first"
cp -r "$www/m" "$www/switch/m" && cp -r "$www/short/m" "$tmp/liar/switch/m"
cp -r "$www/m" "$www/badsum/m" && echo "$(printf '0%.0s' {1..64})  $first" >"$www/badsum/m/$first.sha256"
echo "nginx-$$-$RANDOM" >"$www/marker.txt"

# ---- a private nginx on a free loopback port: try random high ports until one is ours
start_nginx() {
  local port=$1
  mkdir -p "$tmp/ngx/logs" "$tmp/ngx/tmp"
  : >"$tmp/ngx/logs/access.log"
  cat >"$tmp/ngx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $tmp/ngx/nginx.pid;
error_log $tmp/ngx/logs/error.log;
events { worker_connections 64; }
http {
  default_type application/octet-stream;
  log_format bytes '\$request_uri \$status \$body_bytes_sent "\$http_range"';
  access_log $tmp/ngx/logs/access.log bytes;
  client_body_temp_path $tmp/ngx/tmp/body;
  proxy_temp_path $tmp/ngx/tmp/proxy;
  fastcgi_temp_path $tmp/ngx/tmp/fastcgi;
  uwsgi_temp_path $tmp/ngx/tmp/uwsgi;
  scgi_temp_path $tmp/ngx/tmp/scgi;
  map \$http_range \$switch_root { "~^bytes=0-\$" $tmp/liar; default $www; }
  server {
    listen 127.0.0.1:$port;
    root $www;
    location /slow/ { alias $www/; limit_rate 400k; }
    location /switch/ { root \$switch_root; }
  }
}
CONF
  "$nginx" -p "$tmp/ngx" -c "$tmp/ngx/nginx.conf" -e "$tmp/ngx/logs/error.log" 2>>"$tmp/ngx/start.err" &
  ngx_pid=$!
  for _ in $(seq 50); do
    kill -0 "$ngx_pid" 2>/dev/null || { wait "$ngx_pid" 2>/dev/null; ngx_pid=""; return 1; }  # e.g. port in use
    if [ "$(curl -s --max-time 2 "http://127.0.0.1:$port/marker.txt")" = "$(cat "$www/marker.txt")" ]; then
      return 0
    fi
    sleep 0.1
  done
  kill "$ngx_pid" 2>/dev/null; wait "$ngx_pid" 2>/dev/null; ngx_pid=""
  return 1
}
port=""
for _ in $(seq 20); do
  p=$((20000 + RANDOM % 40000))
  if start_nginx "$p"; then port=$p; break; fi
done
[ -n "$port" ] || fail "could not start nginx on any port: $(cat "$tmp/ngx/start.err" "$tmp/ngx/logs/error.log" 2>/dev/null | tail -5)"
url="http://127.0.0.1:$port/m"
log="$tmp/ngx/logs/access.log"
served() { awk -v pre="$1" 'index($1, pre) == 1 { s += $3 } END { print s + 0 }' "$log"; }

# ---- inventory / arch / plan on the URL = on the folder, reading headers only
"$lineage" inventory "$www/m" >"$tmp/inv.local" || fail "local inventory"
"$lineage" inventory "$url" >"$tmp/inv.remote" || fail "remote inventory exit $?: $(cat "$tmp/inv.remote")"
diff <(sed "s#$www/m#MODEL#g" "$tmp/inv.local") <(sed "s#$url#MODEL#g" "$tmp/inv.remote") ||
  fail "inventory differs between the folder and the URL"
grep -q "every tensor accounted for" "$tmp/inv.remote" || fail "remote inventory not clean"
"$lineage" inventory --json --list "$www/m" | sed "s#$www/m#MODEL#g" >"$tmp/invj.local" || fail "local --json"
"$lineage" inventory --json --list "$url" | sed "s#$url#MODEL#g" >"$tmp/invj.remote" || fail "remote --json"
cmp -s "$tmp/invj.local" "$tmp/invj.remote" || fail "inventory --json --list differs"
"$lineage" arch "$www/m" | sed "s#$www/m#MODEL#g" >"$tmp/arch.local" || fail "local arch"
"$lineage" arch "$url" | sed "s#$url#MODEL#g" >"$tmp/arch.remote" || fail "remote arch"
# (table columns are as wide as the location's name)
diff <(tr -s ' -' <"$tmp/arch.local") <(tr -s ' -' <"$tmp/arch.remote") || fail "arch differs"
grep -q "weight map read" "$tmp/arch.remote" || fail "arch did not read the remote weight map"
printf 'suspect: %s\nparents: [%s]\n' "$www/m" "$www/m" >"$tmp/local.yaml"
printf 'suspect: %s\nparents: [%s]\n' "$url" "$url" >"$tmp/remote.yaml"
"$lineage" plan "$tmp/local.yaml" --ranks 2,3 | sed -e "s#$www/m#MODEL#g" -e "s#$tmp/local.yaml#RUN#" >"$tmp/plan.local" ||
  fail "local plan"
"$lineage" plan "$tmp/remote.yaml" --ranks 2,3 | sed -e "s#$url#MODEL#g" -e "s#$tmp/remote.yaml#RUN#" >"$tmp/plan.remote" ||
  fail "remote plan"
diff "$tmp/plan.local" "$tmp/plan.remote" || fail "plan differs"
grep -q "from headers" "$tmp/plan.remote" || fail "remote plan not from headers"
read_bytes=$(served /m/)
requests=$(grep -c '^/m/' "$log")
[ "$read_bytes" -gt 0 ] && [ "$requests" -gt 0 ] || fail "nginx logged no reads of /m/"
# 6 commands read the model: each must stay far under 1%, so all of them together must too
[ $((read_bytes * 100)) -lt "$model_bytes" ] ||
  fail "header reads transferred $read_bytes of $model_bytes bytes (>= 1%)"
grep '^/m/model-' "$log" | grep -v '"bytes=' && fail "a shard was requested without a Range header"
echo "headers only: $read_bytes bytes in $requests requests for a $model_bytes-byte model"

# ---- hf:// through a configurable endpoint; a missing model is exit 3
mkdir -p "$www/org/name/resolve/rev1" && ln -s "$www/m/"* "$www/org/name/resolve/rev1/"
out=$(LINEAGE_HF_ENDPOINT="http://127.0.0.1:$port" "$lineage" inventory "hf://org/name@rev1") || fail "hf:// exit $?"
diff <(sed "s#$www/m#MODEL#g" "$tmp/inv.local") <(sed "s#hf://org/name@rev1#MODEL#g" <<<"$out") || fail "hf:// differs"
"$lineage" inventory "http://127.0.0.1:$port/nothing" 2>"$tmp/err"; [ $? -eq 3 ] || fail "missing remote model: not exit 3"
grep -q "no model.safetensors or model.safetensors.index.json" "$tmp/err" || fail "missing model message: $(cat "$tmp/err")"

# ---- hostile remote models: the bad-input corpus's config, index and header cases served over
# HTTP end as they do from a folder (same exit, same message, nothing echoed). (Its symlink and
# FIFO cases are about the local file system: a web server follows or refuses them itself.)
cp -r "$repo/tests/data/bad" "$www/bad"
while IFS=$'\t' read -r name want forbid args; do
  [[ -z "$name" ]] && continue
  read -r -a argv <<<"${args//\{URL\}/http://127.0.0.1:$port/bad}"
  LINEAGE_FAMILIES="$repo/families" timeout 60 "$lineage" "${argv[@]}" >"$tmp/bad.out" 2>"$tmp/bad.err"
  rc=$?
  [ $rc -eq 3 ] || fail "remote $name: exit $rc, not 3: $(cat "$tmp/bad.err")"
  grep -qF -- "$want" "$tmp/bad.err" || fail "remote $name: message lacks '$want': $(cat "$tmp/bad.err")"
  [ "$(grep -c '^lineage: error: ' "$tmp/bad.err")" -eq 1 ] || fail "remote $name: not one error line"
  if [ "$forbid" != "-" ] && grep -qF -- "$(printf '%b' "$forbid")" "$tmp/bad.out" "$tmp/bad.err"; then
    fail "remote $name: output contains $forbid"
  fi
done <<'CASES'
config_deep	nested deeper than 64 levels	-	arch {URL}/config_deep
config_layers_1e9	key 'num_hidden_layers' = 1000000000 is above the limit	-	arch {URL}/config_layers_1e9
config_nested_layers_list	key 'text_config.num_hidden_layers' is not a number	-	arch {URL}/config_nested_layers_list
config_malformed	malformed JSON	hunter2	arch {URL}/config_malformed
config_exceeds_index	the config implies layers = 5000	-	inventory --index-only {URL}/config_exceeds_index
st_too_short	too short for a safetensors header	-	inventory {URL}/st_too_short
st_header_length_huge	exceeds the	-	inventory {URL}/st_header_length_huge
st_header_deep	JSON header nested deeper	-	inventory {URL}/st_header_deep
st_header_malformed	malformed JSON header	hunter2	inventory {URL}/st_header_malformed
st_escape_codes_in_name	tensor 'evil\x1b[2J\x1b]0;pwned\x07'	\e	inventory {URL}/st_escape_codes_in_name
index_parent_path	escapes the model folder	-	inventory --index-only {URL}/index_parent_path
index_absolute_path	escapes the model folder	-	inventory --index-only {URL}/index_absolute_path
index_deep	nested deeper than 64 levels	-	inventory --index-only {URL}/index_deep
index_missing_shard	shard 'absent.safetensors' is missing	-	inventory {URL}/index_missing_shard
CASES
grep -q 'secret\.txt\|/etc/passwd' "$log" && fail "a name leaving the folder was requested"
echo "hostile remote models: refused as from a folder"

# ---- fetch, killed mid-way, then resumed to byte-identical shards
dl="$tmp/dl"
"$lineage" fetch "http://127.0.0.1:$port/slow/m" "$dl" >"$tmp/fetch1.out" 2>&1 &
fetch_pid=$!
for _ in $(seq 600); do  # until some shard has 1 MB in its .part (limit_rate keeps it slow)
  big=$(find "$dl" -name '*.part' -size +1024k 2>/dev/null | head -1)
  [ -n "$big" ] && break
  kill -0 "$fetch_pid" 2>/dev/null || break
  sleep 0.05
done
kill -9 "$fetch_pid" 2>/dev/null
wait "$fetch_pid" 2>/dev/null
fetch_pid=""
[ -n "$big" ] || fail "fetch never wrote a partial shard: $(cat "$tmp/fetch1.out")"
for f in $shards; do [ -e "$dl/$f" ] && ! cmp -s "$dl/$f" "$www/m/$f" && fail "$f half-written under its final name"; done
"$lineage" compare "$dl" "$www/m" --out "$tmp/x.h5" -q >/dev/null 2>"$tmp/err"
[ $? -eq 3 ] || fail "compare on an incomplete folder: not exit 3 ($(cat "$tmp/err"))"
grep -q "incomplete download" "$tmp/err" || fail "compare message: $(cat "$tmp/err")"
[ ! -e "$tmp/x.h5" ] || fail "compare left a store"
"$lineage" fetch "$url" "$dl" >"$tmp/fetch2.out" 2>&1 || fail "resumed fetch exit $?: $(cat "$tmp/fetch2.out")"
grep -q "resumed at [1-9]" "$tmp/fetch2.out" || fail "second fetch did not resume: $(cat "$tmp/fetch2.out")"
grep -q "sha256 verified" "$tmp/fetch2.out" || fail "no SHA-256 check: $(cat "$tmp/fetch2.out")"
for f in $shards config.json model.safetensors.index.json tokenizer.json tokenizer_config.json; do
  cmp "$dl/$f" "$www/m/$f" || fail "$f differs after the resumed fetch"
done
[ -z "$(find "$dl" -name '*.part')" ] || fail ".part files left"
"$lineage" inventory "$dl" >/dev/null || fail "inventory of the fetched folder"
# fetching a complete folder again transfers no shard
"$lineage" fetch "$url" "$dl" >"$tmp/fetch3.out" 2>&1 || fail "third fetch"
[ "$(grep -c '^present model-' "$tmp/fetch3.out")" -eq "$(wc -w <<<"$shards")" ] || fail "complete shards refetched"

# ---- servers that lie: clear error, exit 3, nothing under the final name, no .part kept
for liar in short switch badsum; do
  out="$tmp/lie-$liar"
  "$lineage" fetch "http://127.0.0.1:$port/$liar/m" "$out" >"$tmp/lie.out" 2>"$tmp/lie.err"
  rc=$?
  [ $rc -eq 3 ] || fail "$liar: exit $rc, not 3: $(cat "$tmp/lie.err")"
  [ "$(wc -l <"$tmp/lie.err")" -eq 1 ] || fail "$liar: not one error line: $(cat "$tmp/lie.err")"
  [ ! -e "$out/$first" ] || fail "$liar: $first kept under its final name"
  [ ! -e "$out/$first.part" ] || fail "$liar: a .part of lying bytes was kept"
  case $liar in
    short) grep -q "past the end of the file" "$tmp/lie.err" || fail "short: $(cat "$tmp/lie.err")" ;;
    switch) grep -q "its header implies" "$tmp/lie.err" || fail "switch: $(cat "$tmp/lie.err")" ;;
    badsum) grep -q "SHA-256 of the downloaded bytes is" "$tmp/lie.err" || fail "badsum: $(cat "$tmp/lie.err")" ;;
  esac
done
"$lineage" inventory "http://127.0.0.1:$port/short/m" >/dev/null 2>&1; [ $? -eq 3 ] || fail "inventory of a short remote shard"
"$lineage" fetch "$www/m" "$tmp/y" >/dev/null 2>&1; [ $? -eq 2 ] || fail "fetch of a local folder: not exit 2"
echo "remote cli: ok"
