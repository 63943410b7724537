"""Reading captures of real traffic and judging each exchange of the operation: one file or many, on any cores.

`reading.audit_file` reads one file in one pass; `splitting.audit_files` reads several, cutting large files into
parts for worker processes and folding their results back in file order. What a pass gives and takes is in
`result`; which exchanges are this API's (method, path, host), in `scope`; the two formats' readers are `jsonl`
and `har`, the HAR's bounded reading is `guard`, and the credentials a capture carries are found by `credentials`.
"""
