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
