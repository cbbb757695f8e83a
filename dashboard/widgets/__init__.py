"""The dashboard's widgets: status tables, header, detail pane, event panel."""
