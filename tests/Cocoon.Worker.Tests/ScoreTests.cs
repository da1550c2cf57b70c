using System.Text;
using Cocoon.Engine.Protocol;
using Cocoon.Engine.SpotChecks;
using Cocoon.Worker.Inference;

namespace Cocoon.Worker.Tests;

/// <summary>
/// Score mode on the real llama.cpp: sampled answers generated several at once (batches change seeded sampling) are
/// scored by a pre-fill of prompt + answer and judged by the published rule; tampered answers fail.
/// </summary>
public sealed class ScoreTests(LlamaFixture fixture) : IClassFixture<LlamaFixture>
{
    private static readonly string[] Prompts = ["Lily had a dog", "The big tree", "A bird sang", "Mom said"];

    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    private LlamaInferenceService Service => fixture.Service;

    private static GenerationRequest Request(string prompt, float temperature, uint seed, int maxTokens = 120, float penalty = 1f) => new()
    {
        Prompt = prompt,
        Sampling = new SamplingOptions { Temperature = temperature, Seed = seed, MaxTokens = maxTokens, RepetitionPenalty = penalty },
    };

    private async Task<(string Text, int[] Tokens, FinishReason Finish)> GenerateAsync(GenerationRequest request)
    {
        var text = new StringBuilder();
        await foreach (var chunk in Service.GenerateAsync(request, _ct))
        {
            text.Append(chunk.Text);
            if (chunk.Usage is { } usage)
            {
                return (text.ToString(), [.. usage.AnswerTokens!], usage.FinishReason);
            }
        }

        throw new InvalidOperationException("no final chunk");
    }

    private async Task<SpotCheckVerdict> CheckAsync(GenerationRequest request, int[] tokens, string delivered, FinishReason finish)
    {
        var scored = await Service.ScoreAsync(request with { Score = new ScoreRequest(tokens) }, _ct);
        // What travels: the report's bytes, parsed back as the gateway does.
        var report = ScoreReport.Parse(scored.Report.ToBytes());
        return ScoreJudge.Judge(SpotCheckRule.Default, request.Sampling, tokens, report, delivered, finish);
    }

    [Fact]
    public async Task Honest_sampled_answers_generated_together_pass_the_check()
    {
        var requests = Prompts.SelectMany((p, i) => new[] { Request(p, 0.7f, (uint)i), Request(p, 1.0f, (uint)(i + 10), penalty: 1.1f) }).ToArray();
        var answers = await Task.WhenAll(requests.Select(GenerateAsync));
        for (var i = 0; i < requests.Length; i++)
        {
            var (text, tokens, finish) = answers[i];
            var verdict = await CheckAsync(requests[i], tokens, text, finish);
            Assert.True(verdict.Passed, $"{i}: {verdict}");
        }
    }

    [Fact]
    public async Task A_greedy_answer_passes_and_its_tokens_must_spell_the_delivered_text()
    {
        var request = Request("Once upon a time", 0f, 1, 48);
        var (text, tokens, finish) = await GenerateAsync(request);

        Assert.True((await CheckAsync(request, tokens, text, finish)).Passed);
        Assert.Equal(SpotCheckOutcome.TextMismatch, (await CheckAsync(request, tokens, text + "!", finish)).Outcome);
    }

    [Fact]
    public async Task Truncated_and_swapped_answers_fail()
    {
        var request = Request("Tom and Sue", 0.8f, 3, 120);
        var (text, tokens, finish) = await GenerateAsync(request);
        Assert.True((await CheckAsync(request, tokens, text, finish)).Passed);
        var end = Service.FirstEndOfGenerationToken();

        // Truncated in the middle of the story, claiming an honest stop.
        int[] cut = [.. tokens[..(tokens.Length / 2)], end];
        var cutText = Service.Spell(cut, []).Text;
        var truncated = await CheckAsync(request, cut, cutText, FinishReason.Stop);
        Assert.Equal(SpotCheckOutcome.BadEnding, truncated.Outcome);

        // Cut and called a length stop although far fewer than max_tokens were drawn.
        int[] stopped = tokens[..(tokens.Length / 2)];
        Assert.Equal(SpotCheckOutcome.BadEnding, (await CheckAsync(request, stopped, Service.Spell(stopped, []).Text, FinishReason.Length)).Outcome);

        // One token in ten replaced by another of the vocabulary (the text delivered is what those tokens spell).
        var random = new Random(5);
        var swapped = tokens.ToArray();
        for (var i = 0; i < swapped.Length - 1; i += 10)
        {
            swapped[i] = random.Next(3, 512); // stories260K has 512 tokens
        }

        var swappedVerdict = await CheckAsync(request, swapped, Service.Spell(swapped, []).Text, FinishReason.Stop);
        Assert.False(swappedVerdict.Passed, swappedVerdict.ToString());
    }

    [Fact]
    public async Task An_answer_that_does_not_fit_the_context_or_vocabulary_is_refused()
    {
        var request = Request("Once upon a time", 0.8f, 1, 8);
        await Assert.ThrowsAsync<ArgumentException>(() => Service.ScoreAsync(request with { Score = new ScoreRequest([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) }, _ct));
        await Assert.ThrowsAsync<ArgumentException>(() => Service.ScoreAsync(request with { Score = new ScoreRequest([1_000_000]) }, _ct));
    }
}
