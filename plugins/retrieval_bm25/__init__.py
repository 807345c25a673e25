"""The built-in BM25 retriever: ranks chunks with bm25s over stemmed Russian and English terms."""
