"""LFPDPPP / ARCO rights: data export, verified deletion requests and their execution."""
