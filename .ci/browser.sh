#!/usr/bin/env bash
# Headless Chromium (Debian's package) for the report's browser test
# (tests/study/test_report_browser.py); sourced by .ci/run, which then requires the test to run.
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q chromium >/dev/null
fi
export VTLBSIM_REQUIRE_BROWSER=1
