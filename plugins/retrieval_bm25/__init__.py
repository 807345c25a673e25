"""The built-in BM25 retriever: ranks chunks with Lucene's BM25 over stemmed Russian and English terms."""
