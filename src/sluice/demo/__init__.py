"""The demo that `sluice serve` sets up: sample sources and two run-once flows."""

from sluice.demo.provision import DemoResult, setup_demo

__all__ = ["DemoResult", "setup_demo"]
