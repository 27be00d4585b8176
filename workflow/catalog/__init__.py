"""The metric catalogue: FIBF service-measure workbooks read into reusable measures.

`package` checks a workbook's zip and XML (with `xmlscan`) against size and count limits
before anything parses it, `workbook` reads sheets and finds headers (with `columns`'
synonyms), `targets` reads target
cells, `keys` keeps reused IDs apart, `measures` turns rows into stored values, `metric` turns
a stored measure into a draft's metric, `report` is what an import answers.
"""
