"""SunSpec over Modbus: the point types (`points`), the models DeGEN reads and serves
(`models`), and the reader that finds and decodes them on a device (`reader`)."""
