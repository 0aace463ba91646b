#!/usr/bin/env bash
# The Android library (AAR) of the Kotlin binding: `make android-aar`.
#
# Needs the Android NDK (ANDROID_NDK_HOME), which the project's own build
# machines cannot fetch: there, `make android-check` compiles the same crates
# for the same ABIs without linking, and this script is not run.
#
# An AAR is a zip: AndroidManifest.xml, classes.jar (the binding's classes,
# without the Linux libraries the jar carries for the JVM) and
# jni/<abi>/libwxcore_ffi.so. An app depends on it and on JNA's own AAR
# (`net.java.dev.jna:jna:5.15.0@aar`), not on JNA's jar.
set -euo pipefail
cd "$(dirname "$0")/../../.."
root=$PWD
: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to an Android NDK (r26 or later)}"
command -v cargo-ndk >/dev/null || cargo install cargo-ndk
rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
out=bindings-uniffi/kotlin/target/android
rm -rf "$out" && mkdir -p "$out/aar/jni"
# API 26: the level the Kotlin driver is checked against (animal-sniffer).
cargo ndk --platform 26 -t arm64-v8a -t armeabi-v7a -t x86_64 -o "$out/aar/jni" build --release -p wxcore-ffi
jar=bindings-uniffi/kotlin/target/wxcore-0.1.0.jar
[ -f "$jar" ] || make kotlin-classes
mkdir -p "$out/classes" && (cd "$out/classes" && unzip -q "$root/$jar" -x 'linux-*' 'META-INF/*')
(cd "$out/classes" && zip -qr ../aar/classes.jar .)
cp bindings-uniffi/kotlin/android/AndroidManifest.xml "$out/aar/"
(cd "$out/aar" && zip -qr ../wxcore-0.1.0.aar .)
echo "$out/wxcore-0.1.0.aar"
