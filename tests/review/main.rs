//! Reviewing runs in the tools people use: the HTML diagram in headless Chromium, the
//! capture in tshark, the JUnit file against its schema, and sharded sweeps merged.
//!
//! The tools are Debian's `chromium`, `tshark` and `xmllint` (`.ci/run` installs them).
//! Without one, a test prints why and passes, except under `CI=true`, where it fails.

mod html;
mod pcap;
mod shards;
mod tools;
