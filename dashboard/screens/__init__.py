"""The dashboard's screens: full detail, help, and the filter and campaign choosers."""
