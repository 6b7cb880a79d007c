"""The official `openai` package against cai-serve: list models, complete a chat (with
log-probs), stream the same chat, and a legacy text completion.

Usage: python openai_client.py BASE_URL API_KEY QUESTION MAX_TOKENS; prints the results as JSON.
"""

import json
import sys

from openai import OpenAI


def main():
    base_url, api_key, question, max_tokens = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=120)
    models = [m.id for m in client.models.list().data]
    messages = [{"role": "user", "content": question}]
    chat = client.chat.completions.create(
        model=models[0], messages=messages, max_tokens=max_tokens, temperature=0, seed=7,
        logprobs=True, top_logprobs=2,
    )
    stream = client.chat.completions.create(
        model=models[0], messages=messages, max_tokens=max_tokens, temperature=0, stream=True,
        stream_options={"include_usage": True},
    )
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage.model_dump()
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    completion = client.completions.create(
        model=models[0], prompt="The capital of France is", max_tokens=max_tokens, temperature=0,
    )
    print(json.dumps({
        "models": models,
        "chat": chat.choices[0].message.content,
        "chat_finish": chat.choices[0].finish_reason,
        "chat_usage": chat.usage.model_dump(),
        "chat_logprob_tokens": [t.token for t in chat.choices[0].logprobs.content],
        "stream": "".join(pieces),
        "stream_pieces": len(pieces),
        "stream_finish": finish,
        "stream_usage": usage,
        "completion": completion.choices[0].text,
    }))


if __name__ == "__main__":
    main()
