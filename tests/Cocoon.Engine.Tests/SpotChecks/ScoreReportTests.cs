using System.Security.Cryptography;
using System.Text;
using Cocoon.Engine.Crypto;
using Cocoon.Engine.Protocol;
using Cocoon.Engine.SpotChecks;

namespace Cocoon.Engine.Tests.SpotChecks;

public sealed class ScoreReportTests
{
    private const int Vocab = 2000;

    private static float[] RandomLogits(Random random, int vocab)
    {
        var logits = new float[vocab];
        for (var i = 0; i < vocab; i++)
        {
            // A few strong candidates over a long flat tail, as a language model's logits look.
            logits[i] = (float)((random.NextDouble() * 4) - 8 + (i % 97 == 0 ? 9 * random.NextDouble() : 0));
        }

        return logits;
    }

    private static (int[] Tokens, List<float[]> Logits) Answer(Random random, SamplingOptions sampling, int n)
    {
        var tokens = new int[n];
        var logits = new List<float[]>();
        for (var i = 0; i < n; i++)
        {
            var l = RandomLogits(random, Vocab);
            logits.Add(l);
            var penalised = SamplerChain.PenalisedLogits(l, sampling, tokens, i);
            var distribution = SamplerChain.Distribution(penalised, sampling);
            // Mostly honest draws, some arbitrary tokens, so both verdicts occur.
            tokens[i] = random.NextDouble() < 0.9 ? distribution[random.Next(distribution.Count)].Token : random.Next(Vocab);
        }

        return (tokens, logits);
    }

    private static ScoreReport Report(SamplingOptions sampling, int[] tokens, List<float[]> logits) => new(
        Vocab, false, false, new byte[32],
        [.. logits.Select((l, i) => ScoreReport.Summarise(l, tokens[i], ScoreReport.TopCount(sampling, Vocab)))]);

    [Theory]
    [InlineData(0f, 40, 1f)]
    [InlineData(0.8f, 40, 1f)]
    [InlineData(1.0f, 20, 1.3f)]
    [InlineData(0.7f, 100, 1f)]
    public void The_compact_report_gives_the_rules_verdict_on_the_full_logits_token_by_token(float temperature, int topK, float penalty)
    {
        var sampling = new SamplingOptions { Temperature = temperature, TopK = topK, RepetitionPenalty = penalty };
        var random = new Random(topK + (int)(temperature * 10));
        var (tokens, logits) = Answer(random, sampling, 150);
        var report = ScoreReport.Parse(Report(sampling, tokens, logits).ToBytes())!;
        var dense = report.DenseLogits(tokens);
        var rule = SpotCheckRule.Default;
        for (var i = 0; i < tokens.Length; i++)
        {
            var full = SamplerChain.PenalisedLogits(logits[i], sampling, tokens, i);
            var compact = SamplerChain.PenalisedLogits(dense[i], sampling, tokens, i);
            Assert.Equal(rule.TokenPasses(full, tokens[i], sampling), rule.TokenPasses(compact, tokens[i], sampling));
            if (temperature > 0)
            {
                var a = SamplerChain.Distribution(full, sampling);
                var b = SamplerChain.Distribution(compact, sampling);
                Assert.Equal(a.Select(d => d.Token), b.Select(d => d.Token));
                Assert.All(a.Zip(b), p => Assert.Equal(p.First.Probability, p.Second.Probability, 4));
            }
        }

        var fullVerdict = rule.Judge(new SpotCheckInput(sampling, tokens, logits, false));
        var compactVerdict = rule.Judge(new SpotCheckInput(sampling, tokens, dense, false));
        Assert.Equal(fullVerdict.Outcome, compactVerdict.Outcome);
        Assert.Equal(fullVerdict.OutOfSupport, compactVerdict.OutOfSupport);
        Assert.Equal(fullVerdict.LikelihoodZ, compactVerdict.LikelihoodZ, 3);
    }

    [Fact]
    public void The_report_is_a_few_hundred_bytes_per_token_and_garbage_does_not_parse()
    {
        var sampling = new SamplingOptions { Temperature = 0.8f, TopK = 40 };
        var (tokens, logits) = Answer(new Random(1), sampling, 100);
        var bytes = Report(sampling, tokens, logits).ToBytes();

        Assert.Equal(45 + (100 * (10 + (40 * 8))), bytes.Length);
        Assert.Null(ScoreReport.Parse(bytes.AsSpan(0, bytes.Length - 1)));
        Assert.Null(ScoreReport.Parse([.. bytes, 0]));
        Assert.Null(ScoreReport.Parse("CSR1 and some text"u8));
    }

    [Fact]
    public void The_judge_requires_the_tokens_to_spell_the_answer_and_end_as_the_receipt_says()
    {
        var sampling = new SamplingOptions { Temperature = 0.8f, TopK = 40, MaxTokens = 50 };
        var (tokens, logits) = Answer(new Random(2), sampling, 20);
        var sha = SHA256.HashData(Encoding.UTF8.GetBytes("the answer"));
        var report = Report(sampling, tokens, logits) with { TextSha256 = sha };

        Assert.Equal(SpotCheckOutcome.TextMismatch, ScoreJudge.Judge(SpotCheckRule.Default, sampling, tokens, report, "another answer", FinishReason.Length).Outcome);
        // 20 tokens drawn without an end-of-generation token: neither a stop nor a length cut at max_tokens 50.
        Assert.Equal(SpotCheckOutcome.BadEnding, ScoreJudge.Judge(SpotCheckRule.Default, sampling, tokens, report, "the answer", FinishReason.Stop).Outcome);
        Assert.Equal(SpotCheckOutcome.BadEnding, ScoreJudge.Judge(SpotCheckRule.Default, sampling, tokens, report, "the answer", FinishReason.Length).Outcome);
        Assert.Equal(SpotCheckOutcome.Malformed, ScoreJudge.Judge(SpotCheckRule.Default, sampling, tokens[1..], report, "the answer", FinishReason.Length).Outcome);
        Assert.Equal(SpotCheckOutcome.Malformed, ScoreJudge.Judge(SpotCheckRule.Default, sampling, tokens, null, "the answer", FinishReason.Length).Outcome);
        Assert.NotEqual(SpotCheckOutcome.BadEnding, ScoreJudge.Judge(SpotCheckRule.Default, sampling with { MaxTokens = 20 }, tokens, report, "the answer", FinishReason.Length).Outcome);
    }

    [Fact]
    public void Answer_tokens_are_sealed_to_the_jobs_context_only()
    {
        using var recipient = HpkeKeyPair.Generate();
        var info = JobBinding.Info("req-1", 0, "w1", "sha", DateTimeOffset.UnixEpoch);
        using var sender = Hpke.SetupSender(recipient.PublicKey, info);
        using var opened = Hpke.SetupRecipient(recipient, sender.Enc, info);
        int[] tokens = [0, 1, 127, 128, 16_383, 16_384, 31_999, 250_000];

        var sealedTokens = AnswerTokenSeal.Seal(opened, "req-1", tokens);

        Assert.Equal(tokens, AnswerTokenSeal.Open(sender, "req-1", sealedTokens));
        Assert.Null(AnswerTokenSeal.Open(sender, "req-2", sealedTokens));
        sealedTokens[0] ^= 1;
        Assert.Null(AnswerTokenSeal.Open(sender, "req-1", sealedTokens));
        Assert.Equal(1 + 1 + 1 + 2 + 2 + 3 + 3 + 3, AnswerTokenSeal.Encode(tokens).Length);
    }
}
