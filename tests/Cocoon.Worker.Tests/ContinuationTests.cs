using Cocoon.Engine.Protocol;
using Cocoon.Worker.Inference;

namespace Cocoon.Worker.Tests;

/// <summary>A resumed answer (GenerationRequest.Continuation) on the real llama.cpp and the small model.</summary>
public sealed class ContinuationTests(LlamaFixture fixture) : IClassFixture<LlamaFixture>
{
    private LlamaInferenceService Service => fixture.Service;

    [Fact]
    public async Task A_greedy_answer_resumed_from_its_delivered_text_goes_on_as_the_uninterrupted_one_did()
    {
        var whole = await RunAsync(InferenceTests.Raw("Once upon a time", 64, 0));
        // Cut where a first worker dies: after a chunk it sent (the fixture sends one chunk per token), so at a boundary
        // of its tokens, as every delivered text is.
        var delivered = string.Concat(whole.Chunks.Take(12));
        var rest = await RunAsync(InferenceTests.Raw("Once upon a time", 64, 0) with { Continuation = delivered });

        Assert.Equal(whole.Text, delivered + rest.Text);

        // The delivered text was pre-filled as prompt and only the rest was decoded: together they are the 64 tokens.
        var continued = rest.Usage.PromptTokens - whole.Usage.PromptTokens;
        Assert.True(continued > 0);
        Assert.Equal(64 - continued, rest.Usage.CompletionTokens);
        Assert.Equal(FinishReason.Length, rest.Usage.FinishReason);
    }

    [Theory]
    [InlineData("Once upon a time")]
    [InlineData("Tom went to the park")]
    public async Task A_text_cut_inside_a_token_by_a_held_back_stop_prefix_resumes_with_the_uninterrupted_tokens(string prompt)
    {
        // One chunk per token without a stop: the chunks are the tokens' pieces, so their ends are the token boundaries.
        var plain = await RunAsync(InferenceTests.Raw(prompt, 48, 0));
        var boundaries = new HashSet<int>();
        var end = 0;
        foreach (var chunk in plain.Chunks)
        {
            boundaries.Add(end += chunk.Length);
        }

        var cuts = 0;
        for (var i = 1; i < 40 && cuts < 12; i++)
        {
            // The character at i is the last of a token longer than it. A stop string that starts with it (and never
            // completes) makes the worker hold it back, so the text delivered after that token ends at i, inside it.
            if (boundaries.Contains(i) || !boundaries.Contains(i + 1))
            {
                continue;
            }

            var stop = plain.Text[i] + "#@";

            var request = InferenceTests.Raw(prompt, 48, 0) with { Sampling = new SamplingOptions { MaxTokens = 48, Temperature = 0, Stop = [stop] } };
            var whole = await RunAsync(request);
            Assert.Equal(plain.Text, whole.Text);
            var delivered = string.Concat(whole.Chunks.TakeWhile((_, n) => whole.Chunks.Take(n + 1).Sum(c => c.Length) <= i));
            Assert.Equal(i, delivered.Length); // the first worker died after sending this: it ends inside a token
            cuts++;

            var rest = await RunAsync(request with { Continuation = delivered });

            // One continuous answer: the delivered text and the rest are the uninterrupted text, and the tokens the
            // second worker drew are the uninterrupted answer's last ones (the cut token written again first).
            Assert.Equal(whole.Text, delivered + rest.Text);
            var tokens = whole.Usage.AnswerTokens!;
            Assert.Equal(tokens.Skip(tokens.Count - rest.Usage.AnswerTokens!.Count), rest.Usage.AnswerTokens);
            // Billed once: the pre-filled part of the delivered text and the drawn tokens are the answer's 48 tokens.
            Assert.Equal(whole.Usage.CompletionTokens, rest.Usage.PromptTokens - whole.Usage.PromptTokens + rest.Usage.CompletionTokens);
            Assert.Equal(whole.Usage.FinishReason, rest.Usage.FinishReason);
        }

        Assert.True(cuts >= 8, $"only {cuts} cuts inside tokens were tried");
    }

    [Fact]
    public async Task A_delivered_text_ending_in_a_character_of_several_byte_tokens_writes_them_again_and_sends_none_twice()
    {
        // The small model's vocabulary spells an emoji in four byte tokens (SentencePiece byte fallback); a first worker
        // that died after the last of them had sent the whole character. The second writes the four bytes again under
        // the healing mask, sends none of them, and goes on as a fresh answer to prompt + delivered text does.
        const string prompt = "Once upon a time";
        const string delivered = " there was a girl who smiled 😀";
        var fresh = await RunAsync(InferenceTests.Raw(prompt + delivered, 24, 0));
        var rest = await RunAsync(InferenceTests.Raw(prompt, 24 + 30, 0) with { Continuation = delivered });

        Assert.StartsWith(fresh.Text, rest.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("😀", rest.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("\uFFFD", rest.Text, StringComparison.Ordinal);
        // The tokens written again are the last ones of prompt + delivered text; after them come the fresh answer's.
        var healed = fresh.Usage.PromptTokens - rest.Usage.PromptTokens;
        Assert.True(healed >= 4, $"the emoji's four byte tokens were drawn again ({healed} tokens healed)");
        Assert.Equal(fresh.Usage.AnswerTokens, rest.Usage.AnswerTokens!.Skip(healed).Take(fresh.Usage.AnswerTokens!.Count));
    }

    [Fact]
    public async Task A_seeded_sampled_resume_is_reproducible_and_decodes_only_the_rest()
    {
        var request = InferenceTests.Raw("Lily had a dog", 120, 0.9f, 20261130);
        var whole = await RunAsync(request);
        var delivered = string.Concat(whole.Chunks.Take(whole.Chunks.Count / 3));
        var first = await RunAsync(request with { Continuation = delivered });
        var second = await RunAsync(request with { Continuation = delivered });

        // The seed seeds the rest's first draw: the same request and delivered text give the same rest.
        Assert.Equal(first.Text, second.Text);
        Assert.NotEmpty(first.Text);
        var continued = first.Usage.PromptTokens - whole.Usage.PromptTokens;
        Assert.True(continued > 0);
        Assert.InRange(first.Usage.CompletionTokens, 1, 120 - continued);
    }

    [Fact]
    public async Task An_answer_whose_every_token_was_delivered_ends_at_its_length_without_one_more()
    {
        // The first worker sent all max_tokens tokens and died before its end: nothing is left for the second.
        var whole = await RunAsync(InferenceTests.Raw("Once upon a time", 8, 0));
        Assert.Equal(FinishReason.Length, whole.Usage.FinishReason);
        var rest = await RunAsync(InferenceTests.Raw("Once upon a time", 8, 0) with { Continuation = whole.Text });

        Assert.Equal(string.Empty, rest.Text);
        Assert.Equal(0, rest.Usage.CompletionTokens);
        Assert.Equal(FinishReason.Length, rest.Usage.FinishReason);
        Assert.True(rest.Usage.PromptTokens > whole.Usage.PromptTokens);
    }

    [Fact]
    public async Task An_empty_continuation_is_refused()
    {
        await Assert.ThrowsAsync<ArgumentException>(async () =>
            await RunAsync(InferenceTests.Raw("Once upon a time", 8, 0) with { Continuation = "" }));
    }

    private async Task<(string Text, GenerationUsage Usage, List<string> Chunks)> RunAsync(GenerationRequest request)
    {
        var chunks = new List<string>();
        GenerationUsage? usage = null;
        await foreach (var chunk in Service.GenerateAsync(request, CancellationToken.None))
        {
            if (chunk.Text.Length > 0)
            {
                chunks.Add(chunk.Text);
            }

            usage = chunk.Usage ?? usage;
        }

        return (string.Concat(chunks), usage!, chunks);
    }
}
