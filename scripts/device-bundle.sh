#!/usr/bin/env bash
# Prepares, on the build machine, everything Java that a GPU machine lacks, as one archive in
# bundle/ (ignored by git): a jlink runtime, the runtime dependency jars, the compiled main and
# test classes (with the native libraries and JNI glue built here), the test dependency jars and the
# JUnit console launcher. scripts/gpu-check.sh unpacks and uses it. The archive and the tracked
# working tree travel together and must fit the device call's 64 MiB: the jars are stored
# uncompressed inside an xz-compressed tar (33 MB instead of 59 MB as deflated jars in a gzip), and
# the demo model's weights stay out (they are tracked files, so they travel with the tree, and
# gpu-check.sh puts src/main/resources on the class path).
#   usage: scripts/device-bundle.sh            (runs mvn -DskipTests package first)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$root/bundle"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
junit_console_version=1.14.1
limit_bytes=$(( 64 * 1024 * 1024 - 2 * 1000 * 1000 ))  # the call limit, less room for untracked files

echo "device-bundle: building (mvn -q -DskipTests package)"
mvn -q -DskipTests package test-compile
mvn -q dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$stage/lib" >/dev/null
# the GPU run needs only linux-x86_64 natives; OpenBLAS for the CPU tests, cudart/cuBLAS glue for CUDA
# the JUnit console launcher without the engines the standalone jar repeats (the test jars in lib/ have them)
for a in junit-platform-console junit-platform-launcher junit-platform-reporting; do
  mvn -q dependency:copy -Dartifact="org.junit.platform:$a:$junit_console_version" -DoutputDirectory="$stage/tools" >/dev/null
done

echo "device-bundle: jlink runtime"
# java.desktop for java.beans (Jinjava's chat templates; its AWT, font and image natives are never loaded),
# jdk.management for the per-thread allocation counter of bench generate, jdk.zipfs for JUnit's jar scan
jlink --add-modules java.base,java.logging,java.management,jdk.management,jdk.zipfs,java.xml,java.naming,jdk.unsupported,java.sql,java.desktop \
  --strip-debug --no-header-files --no-man-pages --compress=0 \
  --exclude-files='**/libawt_xawt.so,**/libawt_headless.so,**/libfontmanager.so,**/libjavajpeg.so,**/liblcms.so,**/libmlib_image.so,**/libsplashscreen.so,**/libjsound.so,**/libawt.so' \
  --output "$stage/jre" 2>/dev/null

# the runtime's own libraries carry symbol tables too (libjvm.so: 24 MB, 20 MB stripped)
find "$stage/jre" -name '*.so' -exec strip --strip-unneeded {} +

mkdir -p "$stage/app"
cp -r target/classes "$stage/app/classes"
# the demo models (13 MB and 26 MB of weights) reach the device with the working tree: src/main/resources
rm -rf "$stage/app/classes/dev/braindrip/demo" "$stage/app/classes/dev/braindrip/demo-blt"
# libbraindrip_cuda is rebuilt on the GPU machine for its architecture by gpu-check.sh and copied
# over this one (same sources, same C ABI); leaving it out keeps the bundle within budget.
rm -f "$stage"/app/classes/dev/braindrip/jni/linux-x86_64/libbraindrip_cuda.so
find "$stage/app/classes" -name '*.cpp' -delete
cp -r target/test-classes "$stage/app/test-classes"
# the Hugging Face fixtures (src/test/resources/hf, 2.4 MB gzipped) are read by path relative to the working
# directory (Fixtures.ROOT, HfReferenceTest), never as class path resources; the device gets them with the working
# tree and gpu-check.sh runs the tests from the repo root, so the copy maven put into test-classes is left out.
if grep -rqE 'getResource|getSystemResource' src/test/java 2>/dev/null; then
  echo "device-bundle: a test loads class path resources; keeping test-classes/hf" >&2
else
  rm -rf "$stage/app/test-classes/hf"
fi
# (stage/lib holds the test-scope dependency set, runtime included; target/lib may keep jars of earlier builds)
# the Hugging Face tokenizers jar carries its native library for five platforms (18 MB); the GPU
# machine needs linux-x86_64 only
for j in "$stage"/lib/tokenizers-*.jar; do
  [ -e "$j" ] || continue
  python3 - "$j" <<'PY'
import os, sys, zipfile
src = sys.argv[1]
tmp = src + ".slim"
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
    for item in zin.infolist():
        n = item.filename
        if n.startswith("native/lib/") and not n.startswith("native/lib/linux-x86_64/") and not n.endswith("/") and n != "native/lib/tokenizers.properties":
            continue
        zout.writestr(item, zin.read(n))
os.replace(tmp, src)
PY
done
# native libraries the code never loads, out of the platform jars: OpenBLAS is bound through
# org.bytedeco.openblas.global.openblas_nolapack (libjniopenblas_nolapack.so; the LAPACK and _full JNI
# libraries and the C headers stay out), CUDA through cudart and cublas only (not NPP, cuFFT, cuDNN, ...)
slim_jar() { # slim_jar JAR PYTHON-EXPR-ON-n (true: drop the entry)
  python3 - "$1" "$2" <<'PY'
import os, sys, zipfile
src, drop = sys.argv[1], eval("lambda n: " + sys.argv[2])
tmp = src + ".slim"
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
    for item in zin.infolist():
        if not item.filename.endswith("/") and drop(item.filename):
            continue
        zout.writestr(item, zin.read(item.filename))
os.replace(tmp, src)
PY
}
for j in "$stage"/lib/openblas-*-linux-x86_64.jar; do
  [ -e "$j" ] && slim_jar "$j" 'n.endswith(("/libjniopenblas.so", "/libjniopenblas_full.so")) or "/include/" in n'
done
# the tokenizers library ships with its symbol table (15 MB; 11.8 MB stripped)
for j in "$stage"/lib/tokenizers-*.jar; do
  [ -e "$j" ] || continue
  python3 - "$j" <<'PY'
import os, subprocess, sys, tempfile, zipfile
src = sys.argv[1]
tmp = src + ".slim"
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
    for item in zin.infolist():
        data = zin.read(item.filename)
        if item.filename.endswith(".so"):
            with tempfile.NamedTemporaryFile(suffix=".so", delete=False) as f:
                f.write(data)
            subprocess.run(["strip", "--strip-unneeded", f.name], check=True)
            with open(f.name, "rb") as g:
                data = g.read()
            os.unlink(f.name)
        zout.writestr(item, data)
os.replace(tmp, src)
PY
done
for j in "$stage"/lib/cuda-*-linux-x86_64.jar; do
  [ -e "$j" ] && slim_jar "$j" 'n.endswith(".so") and not n.endswith(("/libjnicudart.so", "/libjnicublas.so"))'
done
# the layer rules (ArchUnit) are a static check of the classes that every CI run makes; the GPU run
# leaves them out (gpu-check.sh excludes dev.braindrip.arch)
rm -f "$stage"/lib/archunit-*.jar
rm -rf "$stage/app/test-classes/dev/braindrip/arch"
# the project's own jar is not needed: classes/ holds the same files
rm -f "$stage"/lib/braindrip-*.jar
git rev-parse --short HEAD > "$stage/COMMIT" 2>/dev/null || echo unknown > "$stage/COMMIT"

# every jar stored uncompressed: xz over the whole tar then finds the redundancy that deflate per entry hides
python3 - "$stage"/lib/*.jar "$stage"/tools/*.jar <<'PY'
import os, sys, zipfile
for src in sys.argv[1:]:
    tmp = src + ".stored"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            item.compress_type = zipfile.ZIP_STORED
            zout.writestr(item, data)
    os.replace(tmp, src)
PY

mkdir -p "$out"
rm -f "$out/braindrip-bundle.tar.gz"
tar -C "$stage" -cf - . | xz -7 -T0 > "$out/braindrip-bundle.tar.xz"
bundle_bytes=$(stat -c %s "$out/braindrip-bundle.tar.xz")
# tracked files absent from the working tree (moved aside for the call) are not copied, so they do not count
tree_bytes=$( (git ls-files -z | xargs -0 stat -c %s 2>/dev/null || true) | awk '{ s += $1 } END { print s + 0 }')
echo "device-bundle: $out/braindrip-bundle.tar.xz ($(( bundle_bytes / 1000000 )) MB; with the tracked tree, $(( (bundle_bytes + tree_bytes) / 1000000 )) MB of the call's 67 MB)"
if [ $(( bundle_bytes + tree_bytes )) -gt "$limit_bytes" ]; then
  echo "device-bundle: the bundle and the tracked tree exceed the device call's 64 MiB (less 2 MB of room)" >&2
  blt=src/main/resources/dev/braindrip/demo-blt/model.safetensors
  if [ -f "$blt" ]; then
    # the BLT demo's 26 MB of weights are the tree's largest file; the GPU check does not need them (DemoBltTest skips
    # there when they are absent: gpu-check.sh sets -Dbraindrip.demoBltOptional=true), so leave them out of the copy
    echo "device-bundle: for the device call, move the BLT demo's weights out of the working tree and back afterwards:" >&2
    echo "  mv $blt /tmp/demo-blt.safetensors   # ... the device call ...   mv /tmp/demo-blt.safetensors $blt" >&2
    echo "  (then rerun this script to check the size)" >&2
  fi
  exit 1
fi
