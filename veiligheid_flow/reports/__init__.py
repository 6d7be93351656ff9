"""Reports and exports for the council and the public: rendering (HTML, PDF by WeasyPrint,
charts as SVG, CSV and XLSX) of what the application layer's report queries return."""
