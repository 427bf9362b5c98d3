#!/usr/bin/env bash
# Regenerates the audit-derived tables from this machine's auditd (Debian's auditd 3.0.9 made
# the committed ones): syscall names from `ausyscall ARCH --dump` (auditctl's own naming), plus
# the syscalls newer kernels added; record type, errno and file type names from libaudit.
# Hand-written tables (fields, machines, io_uring ops, comparisons, perms, fstypes) are not
# touched. Review the diff: the tables are facts vigil promises to keep.
set -euo pipefail
cd "$(dirname "$0")"
command -v ausyscall >/dev/null || { echo "refresh: ausyscall missing (apt-get install auditd)" >&2; exit 1; }
command -v clang >/dev/null || { echo "refresh: clang missing" >&2; exit 1; }
lib=$(ls /lib/*/libaudit.so.1 /usr/lib/*/libaudit.so.1 2>/dev/null | head -1)
[ -n "$lib" ] || { echo "refresh: libaudit.so.1 missing" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Linux 6.18 syscalls numbered after ausyscall 3.0.9's last (450); the same numbers on x86_64,
# i386 and the generic table (arch/x86/entry/syscalls/syscall_{64,32}.tbl, scripts/syscall.tbl).
cat > "$tmp/extra.tsv" <<'EOT'
451	cachestat
452	fchmodat2
453	map_shadow_stack
454	futex_wake
455	futex_wait
456	futex_requeue
457	statmount
458	listmount
459	lsm_get_self_attr
460	lsm_set_self_attr
461	lsm_list_modules
462	mseal
463	setxattrat
464	getxattrat
465	listxattrat
466	removexattrat
467	open_tree_attr
468	file_getattr
469	file_setattr
EOT

for a in x86_64 i386 aarch64 arm ppc s390 s390x; do
  ausyscall "$a" --dump | tail -n +2 > "$tmp/$a.raw"
  {
    echo "# $a syscall table: number<TAB>name."
    echo "# Names and numbers up to 450: Debian auditd 3.0.9 \`ausyscall $a --dump\` (auditctl's own naming)."
    case $a in x86_64|i386|aarch64|arm) echo "# 451-469: Linux 6.18 syscall tables (arch/x86/entry/syscalls/syscall_{64,32}.tbl, scripts/syscall.tbl).";; esac
    echo "# Regenerate with tables/refresh.sh."
    cat "$tmp/$a.raw"
    case $a in
      x86_64|i386|aarch64|arm)
        awk -F'\t' -v f="$tmp/$a.raw" 'BEGIN{while((getline l < f)>0){split(l,p,"\t"); have[p[1]]=1}} !($1 in have)' "$tmp/extra.tsv";;
    esac
  } > "syscalls_$a.tsv"
done

cat > "$tmp/dump.c" <<'EOT'
#include <stdio.h>
#include <string.h>
const char *audit_msg_type_to_name(int);
const char *audit_errno_to_name(int);
const char *audit_ftype_to_name(int);
int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (!strcmp(argv[1], "msg"))
    for (int i = 0; i < 20000; i++) { const char *n = audit_msg_type_to_name(i); if (n) printf("%d\t%s\taudit\n", i, n); }
  if (!strcmp(argv[1], "errno"))
    for (int i = 0; i < 4096; i++) { const char *n = audit_errno_to_name(i); if (n) printf("%d\t%s\n", i, n); }
  if (!strcmp(argv[1], "ftype"))
    for (int i = 0; i < 0x10000; i++) { const char *n = audit_ftype_to_name(i); if (n) printf("%d\t%s\n", i, n); }
  return 0;
}
EOT
clang -w -o "$tmp/dump" "$tmp/dump.c" "$lib"

{
  echo "# Audit record (message) type names: number<TAB>NAME<TAB>origin."
  echo "# origin \"audit\": Debian auditd 3.0.9 libaudit audit_msg_type_to_name() (auditctl prints these names);"
  echo "# origin \"vigil\": record types vigil adds (auditctl prints their number). Regenerate with tables/refresh.sh."
  { "$tmp/dump" msg; printf '1020\tCONTAINER_OP\tvigil\n3000\tCONTAINER_ID\tvigil\n3001\tVIGIL_LOSS\tvigil\n3002\tVIGIL_POLICY\tvigil\n'; } | sort -t"$(printf '\t')" -k1,1n
} > msgtypes.tsv
{
  echo "# errno names: number<TAB>NAME (Debian auditd 3.0.9 libaudit audit_errno_to_name(); x86_64 Linux numbering)."
  echo "# Regenerate with tables/refresh.sh."
  "$tmp/dump" errno
} > errno.tsv
{
  echo "# -F filetype= names: st_mode type bits (decimal)<TAB>name (libaudit audit_name_to_ftype(), case-insensitive)."
  "$tmp/dump" ftype
} > filetypes.tsv
echo "refresh: tables regenerated; review with git diff"
