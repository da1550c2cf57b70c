using Cocoon.Engine.Protocol;
using Cocoon.Engine.SpotChecks;

namespace Cocoon.Engine.Tests.SpotChecks;

public sealed class SpotCheckRuleTests
{
    private static readonly SamplingOptions Greedy = new() { Temperature = 0f };

    private static readonly SamplingOptions Sampled = new() { Temperature = 0.8f, TopK = 40, TopP = 0.95f, MinP = 0.05f };

    private static readonly SpotCheckRule Exact = new() { LogitTolerance = 0 };

    [Fact]
    public void Greedy_accepts_the_argmax_and_near_ties_within_the_tolerance_only()
    {
        double[] logits = [1.0, 5.0, 4.8, 3.0];

        Assert.True(SpotCheckRule.Default.TokenPasses(logits, 1, Greedy));
        Assert.True(SpotCheckRule.Default.TokenPasses(logits, 2, Greedy));
        Assert.False(SpotCheckRule.Default.TokenPasses(logits, 3, Greedy));
        Assert.False(Exact.TokenPasses(logits, 2, Greedy));
        Assert.True(Exact.TokenPasses([2.0, 2.0], 1, Greedy));
    }

    [Fact]
    public void Top_k_keeps_the_k_largest_with_ties_in_the_tokens_favour()
    {
        var options = new SamplingOptions { Temperature = 1f, TopK = 2, TopP = 1f, MinP = 0f };

        Assert.True(SamplerChain.InSupport([3.0, 2.0, 1.0], 1, options));
        Assert.False(SamplerChain.InSupport([3.0, 2.0, 1.0], 2, options));
        Assert.True(SamplerChain.InSupport([3.0, 2.0, 2.0], 2, options));
    }

    [Fact]
    public void Top_p_keeps_tokens_until_the_running_sum_first_reaches_p_on_raw_logits()
    {
        // Softmax of 2, 1, 0, -1 is .644, .237, .087, .032: with p = 0.7 the second token completes the set.
        var options = new SamplingOptions { Temperature = 0.5f, TopK = 0, TopP = 0.7f, MinP = 0f };
        double[] logits = [2.0, 1.0, 0.0, -1.0];

        Assert.True(SamplerChain.InSupport(logits, 0, options));
        Assert.True(SamplerChain.InSupport(logits, 1, options));
        Assert.False(SamplerChain.InSupport(logits, 2, options));
        Assert.Equal([0, 1], SamplerChain.Distribution(logits, options).Select(d => d.Token));
    }

    [Fact]
    public void Top_p_normalises_over_what_top_k_left()
    {
        // Without top-k the first token holds .644 < .7; over the top 2 only it holds .731 >= .7 and stands alone.
        var options = new SamplingOptions { Temperature = 1f, TopK = 2, TopP = 0.7f, MinP = 0f };

        Assert.False(SamplerChain.InSupport([2.0, 1.0, 0.0, -1.0], 1, options));
        Assert.True(SamplerChain.InSupport([2.0, 1.0, 0.0, -1.0], 1, options with { TopK = 0 }));
    }

    [Fact]
    public void Min_p_keeps_tokens_at_least_p_times_as_likely_as_the_best()
    {
        var options = new SamplingOptions { Temperature = 1f, TopK = 0, TopP = 1f, MinP = 0.05f };

        Assert.False(SamplerChain.InSupport([0.0, Math.Log(0.04)], 1, options));
        Assert.True(SamplerChain.InSupport([0.0, Math.Log(0.06)], 1, options));
    }

    [Fact]
    public void The_distribution_applies_temperature_after_the_filters()
    {
        var options = new SamplingOptions { Temperature = 0.5f, TopK = 0, TopP = 1f, MinP = 0f };
        var d = SamplerChain.Distribution([Math.Log(2.0), 0.0], options);

        Assert.Equal(0.8, d[0].Probability, 9);
        Assert.Equal(0.2, d[1].Probability, 9);
    }

    [Fact]
    public void Every_token_the_distribution_can_draw_is_in_the_support()
    {
        var random = new Random(3);
        for (var trial = 0; trial < 200; trial++)
        {
            var logits = Enumerable.Range(0, 64).Select(_ => random.NextDouble() * 10).ToArray();
            var distribution = SamplerChain.Distribution(logits, Sampled);
            var support = Enumerable.Range(0, 64).Where(t => SamplerChain.InSupport(logits, t, Sampled)).ToHashSet();

            Assert.All(distribution, d => Assert.Contains(d.Token, support));
            Assert.Equal(distribution.Count, support.Count);
            Assert.Equal(1.0, distribution.Sum(d => d.Probability), 9);
        }
    }

    [Fact]
    public void The_repetition_penalty_weakens_tokens_from_the_last_64_generated()
    {
        var options = new SamplingOptions { RepetitionPenalty = 2f };
        float[] logits = [4f, -1f, 3f];
        int[] generated = [0, 1, 0];

        var penalised = SamplerChain.PenalisedLogits(logits, options, generated, 2);

        Assert.Equal([2.0, -2.0, 3.0], penalised);
        Assert.Equal([4.0, -1.0, 3.0], SamplerChain.PenalisedLogits(logits, options, generated, 0));
        var far = Enumerable.Repeat(2, 64).Prepend(0).ToArray();
        Assert.Equal(4.0, SamplerChain.PenalisedLogits(logits, options, far, 65)[0]);
    }

    private static float[] Peaked(int vocab, int top, float gap = 6f)
    {
        var logits = new float[vocab];
        logits[top] = gap;
        return logits;
    }

    [Fact]
    public void An_answer_the_model_would_give_passes()
    {
        int[] tokens = [3, 5, 7, 0];
        var input = new SpotCheckInput(Greedy, tokens, [.. tokens.Select(t => Peaked(16, t))], EndsWithEndOfGeneration: true);

        var verdict = SpotCheckRule.Default.Judge(input);

        Assert.True(verdict.Passed);
        Assert.Equal(0, verdict.OutOfSupport);
    }

    [Fact]
    public void An_answer_cut_short_fails_at_its_end_whatever_the_tolerance()
    {
        // The model wanted token 9 where the answer ends (token 0 = end of generation).
        int[] tokens = [3, 5, 0];
        var input = new SpotCheckInput(Greedy, tokens, [Peaked(16, 3), Peaked(16, 5), Peaked(16, 9)], EndsWithEndOfGeneration: true);

        var verdict = SpotCheckRule.Default.Judge(input);

        Assert.Equal(SpotCheckOutcome.BadEnding, verdict.Outcome);
    }

    [Fact]
    public void One_stray_token_is_tolerated_and_a_different_model_is_not()
    {
        var model = Enumerable.Range(0, 100).Select(i => 1 + i % 15).ToArray();
        var logits = model.Select(t => Peaked(16, t)).ToArray();
        var oneStray = model.ToArray();
        oneStray[10] = 1 + (oneStray[10] % 15);
        var many = model.Select((t, i) => i % 10 == 0 ? 1 + (t % 15) : t).ToArray();

        Assert.True(SpotCheckRule.Default.Judge(new SpotCheckInput(Greedy, oneStray, logits, false)).Passed);
        var verdict = SpotCheckRule.Default.Judge(new SpotCheckInput(Greedy, many, logits, false));
        Assert.Equal(SpotCheckOutcome.OutOfSupport, verdict.Outcome);
        Assert.Equal(10, verdict.OutOfSupport);
        Assert.Equal(2, verdict.AllowedOutOfSupport);
        Assert.Equal(0, verdict.FirstOutOfSupport);
    }

    [Fact]
    public void Sampled_tokens_that_are_all_in_the_support_but_always_the_unlikely_ones_fail_the_likelihood_test()
    {
        // Two candidates at every position, 0.73 and 0.27 after temperature 1: an honest sampler picks the second a
        // quarter of the time, this answer picks it every time.
        var options = new SamplingOptions { Temperature = 1f, TopK = 0, TopP = 1f, MinP = 0.05f };
        var logits = Enumerable.Range(0, 200).Select(_ => new[] { -50f, 1f, 0f }).ToArray();
        var unlikely = Enumerable.Repeat(2, 200).ToArray();
        var random = new Random(5);
        var honest = Enumerable.Range(0, 200).Select(_ => random.NextDouble() < 0.731 ? 1 : 2).ToArray();

        var verdict = SpotCheckRule.Default.Judge(new SpotCheckInput(options, unlikely, logits, false));

        Assert.Equal(0, verdict.OutOfSupport);
        Assert.Equal(SpotCheckOutcome.Unlikely, verdict.Outcome);
        Assert.True(SpotCheckRule.Default.Judge(new SpotCheckInput(options, honest, logits, false)).Passed);
    }

    [Fact]
    public void A_report_that_does_not_fit_the_answer_is_no_verdict()
    {
        Assert.Equal(SpotCheckOutcome.Malformed, SpotCheckRule.Default.Judge(new SpotCheckInput(Greedy, [1, 2], [Peaked(4, 1)], false)).Outcome);
        Assert.Equal(SpotCheckOutcome.Malformed, SpotCheckRule.Default.Judge(new SpotCheckInput(Greedy, [9], [Peaked(4, 1)], false)).Outcome);
    }

    [Theory]
    [InlineData(SpotCheckOutcome.Passed, null, TieBreakOutcome.NoDispute)]
    [InlineData(SpotCheckOutcome.OutOfSupport, null, TieBreakOutcome.NeedsThirdWorker)]
    [InlineData(SpotCheckOutcome.OutOfSupport, SpotCheckOutcome.Unlikely, TieBreakOutcome.OriginalFaulted)]
    [InlineData(SpotCheckOutcome.BadEnding, SpotCheckOutcome.Passed, TieBreakOutcome.CheckerOverruled)]
    [InlineData(SpotCheckOutcome.OutOfSupport, SpotCheckOutcome.Malformed, TieBreakOutcome.Void)]
    [InlineData(SpotCheckOutcome.Malformed, null, TieBreakOutcome.Void)]
    public void The_tie_break_penalises_the_minority(SpotCheckOutcome checker, SpotCheckOutcome? third, TieBreakOutcome expected)
    {
        static SpotCheckVerdict V(SpotCheckOutcome o) => new(o, 10, 0, 1, -1, 0);

        Assert.Equal(expected, TieBreak.Resolve(V(checker), third is { } t ? V(t) : null));
    }
}
