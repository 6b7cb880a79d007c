"""Step 7 of NeMo-Aligner's CAI tutorial ("Run inference"), unchanged apart from the port and
max_tokens arguments: PUT /generate with the tutorial's fields, answer = sentences[0][len(prompt):].

Usage: python nemo_tutorial.py PORT QUESTION MAX_TOKENS; prints {"prompt": ..., "answer": ...}.
"""

import json
import sys

import requests


def get_answer(question, max_tokens=512, eval_port=8080):
    prompt = (
        "<extra_id_0>System\nA chat between a curious user and an artificial intelligence assistant. "
        "The assistant gives helpful, detailed, and polite answers to the user's questions.\n"
        "<extra_id_1>User\n{question}\n<extra_id_1>Assistant\n"
    ).format(question=question)
    prompts = [prompt]
    data = {
        "sentences": prompts,
        "tokens_to_generate": max_tokens,
        "top_k": 1,
        "greedy": True,
        "end_strings": ["<extra_id_1>"],
    }
    url = f"http://localhost:{eval_port}/generate"
    response = requests.put(url, json=data)
    json_response = response.json()
    response_sentence = json_response["sentences"][0][len(prompt):]
    return prompt, response_sentence


if __name__ == "__main__":
    port, question, max_tokens = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    prompt, answer = get_answer(question, max_tokens=max_tokens, eval_port=port)
    print(json.dumps({"prompt": prompt, "answer": answer}))
