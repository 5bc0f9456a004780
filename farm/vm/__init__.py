"""The host side of a guest: the vng command line, the KVM probe, the root filesystem."""
