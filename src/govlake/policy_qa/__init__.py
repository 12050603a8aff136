"""政策问答 (policy Q&A): an enterprise's question in Chinese answered with the articles of the
policies it concerns (jieba + BM25 over catalog/policies), and, when the enterprise is known,
its own result clause by clause from the online evaluator (govlake.policy.evaluate).
See docs/policy-qa.md."""
