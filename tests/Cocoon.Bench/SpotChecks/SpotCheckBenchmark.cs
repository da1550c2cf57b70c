using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cocoon.Engine.Protocol;
using Cocoon.Engine.SpotChecks;
using Cocoon.Testing;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cocoon.Bench.SpotChecks;

/// <summary>
/// `./cocoon bench spotcheck`: the published spot-check rule (SpotCheckRule.Default through ScoreJudge) on the real
/// llama.cpp. An "original" worker generates honest sampled answers (temperature 0.7–1.0, with and without top-k and a
/// repetition penalty, half alone and half in batches of 8, which changes seeded sampling); a second worker (another
/// context with another batch size, so its logits come from other batch shapes) scores each and the rule judges it:
/// every rejection is a false positive. Then dishonest answers: truncated (half the tokens and an end-of-generation
/// token, "stop"), cut and called "length", another model's (a random-weight model with the same tokenizer), an answer
/// to another prompt (a replayed cached answer), one token in twenty swapped for a random one, and a hotter sampler
/// (temperature 1.5, no filters) passed off as the request's: the share rejected is the catch rate. Also the cost of a
/// greedy check both ways: regenerating vs scoring, and the report's bytes per scored token.
/// </summary>
public static class SpotCheckBenchmark
{
    private static readonly string[] Prompts =
    [
        "Once upon a time", "Lily had a dog", "The big tree", "A bird sang", "Mom said", "Tom and Sue", "One day, a cat", "The sun was",
        "There was a boy", "The little car", "Ben wanted to", "It was a cold day",
    ];

    private static int Honest => int.TryParse(Environment.GetEnvironmentVariable("COCOON_BENCH_SPOTCHECK_ANSWERS"), CultureInfo.InvariantCulture, out var n) ? n : 160;

    public static async Task RunAsync(BenchContext bench)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var ct = bench.CancellationToken;
        using var data = new TempDir("cocoon-bench-spotcheck");
        var other = await SyntheticGguf.EnsureAsync(Path.Combine(bench.OutputDir, "models", "synthetic-tiny-q8_0.gguf"), SharedFiles.SmallModel, new SyntheticGguf.Shape(64, 2, 4, 4, 128), ct).ConfigureAwait(false);
        using var original = await LoadAsync(SharedFiles.SmallModel, data, 512, ct).ConfigureAwait(false);
        using var checker = await LoadAsync(SharedFiles.SmallModel, data, 64, ct).ConfigureAwait(false);
        using var cheap = await LoadAsync(other, data, 512, ct).ConfigureAwait(false);
        var rule = SpotCheckRule.Default;

        // Honest answers: 8 at a time (one batch), or one by one.
        var honest = new List<(GenerationRequest Request, Answer Answer, bool Batched)>();
        var random = new Random(11);
        for (var i = 0; honest.Count < Honest; i++)
        {
            var batch = Enumerable.Range(0, 8).Select(j => Request(random, Prompts[random.Next(Prompts.Length)], (uint)((i * 8) + j))).ToArray();
            var batched = i % 2 == 0;
            var answers = batched
                ? await Task.WhenAll(batch.Select(r => GenerateAsync(original, r, ct))).ConfigureAwait(false)
                : await SequentialAsync(original, batch, ct).ConfigureAwait(false);
            honest.AddRange(batch.Zip(answers, (r, a) => (r, a, batched)));
        }

        var falsePositives = new List<string>();
        long reportBytes = 0, scoredTokens = 0;
        var worstZ = double.PositiveInfinity;
        var worstMisses = 0;
        foreach (var (request, answer, batched) in honest)
        {
            var (verdict, bytes) = await CheckAsync(checker, rule, request, answer, ct).ConfigureAwait(false);
            reportBytes += bytes;
            scoredTokens += answer.Tokens.Length;
            worstZ = Math.Min(worstZ, verdict.LikelihoodZ);
            worstMisses = Math.Max(worstMisses, verdict.OutOfSupport);
            if (!verdict.Passed)
            {
                falsePositives.Add(string.Create(CultureInfo.InvariantCulture, $"{verdict.Outcome} T={request.Sampling.Temperature} k={request.Sampling.TopK} rp={request.Sampling.RepetitionPenalty} batched={batched} misses={verdict.OutOfSupport}/{verdict.Tokens} z={verdict.LikelihoodZ:F2}"));
            }
        }

        var endToken = original.FirstEndOfGenerationToken();
        var cheats = new Dictionary<string, (int Caught, int Tried)>();
        async Task TryAsync(string kind, GenerationRequest request, Answer answer)
        {
            var (verdict, _) = await CheckAsync(checker, rule, request, answer, ct).ConfigureAwait(false);
            var (caught, tried) = cheats.GetValueOrDefault(kind);
            cheats[kind] = (caught + (verdict.Passed ? 0 : 1), tried + 1);
        }

        var sample = honest.Where(h => h.Answer.Tokens.Length >= 16).Take(120).ToList();
        foreach (var (request, answer, _) in sample)
        {
            var half = answer.Tokens[..(answer.Tokens.Length / 2)];
            await TryAsync("truncated, claims stop", request, Spelled(original, [.. half, endToken], request, FinishReason.Stop)).ConfigureAwait(false);
            await TryAsync("truncated, claims length", request, Spelled(original, half, request, FinishReason.Length)).ConfigureAwait(false);
            var swapped = answer.Tokens.ToArray();
            for (var i = random.Next(20); i < swapped.Length - 1; i += 20)
            {
                swapped[i] = random.Next(3, 512);
            }

            await TryAsync("1 token in 20 swapped", request, Spelled(original, swapped, request, answer.Finish)).ConfigureAwait(false);
            var replayed = await GenerateAsync(original, request with { Prompt = Prompts[(Array.IndexOf(Prompts, request.Prompt) + 1) % Prompts.Length] }, ct).ConfigureAwait(false);
            await TryAsync("answer to another prompt", request, replayed).ConfigureAwait(false);
            var hot = await GenerateAsync(original, request with { Sampling = request.Sampling with { Temperature = 1.5f, TopK = 0, TopP = 1f, MinP = 0f } }, ct).ConfigureAwait(false);
            await TryAsync("temperature 1.5 without filters", request, hot).ConfigureAwait(false);
        }

        foreach (var (request, _, _) in sample.Take(40))
        {
            var fake = await GenerateAsync(cheap, request with { Sampling = request.Sampling with { MaxTokens = 48 } }, ct).ConfigureAwait(false);
            await TryAsync("another model (random weights)", request with { Sampling = request.Sampling with { MaxTokens = 48 } }, fake).ConfigureAwait(false);
        }

        // A greedy check both ways: regenerate the answer on the checker, or score the delivered one.
        double regenerateMs = 0, scoreMs = 0;
        var greedy = Prompts.Select(p => new GenerationRequest { Prompt = p, Sampling = new SamplingOptions { Temperature = 0, MaxTokens = 200 } }).ToArray();
        var greedyTokens = 0;
        for (var rep = 0; rep < 3; rep++)
        {
            foreach (var request in greedy)
            {
                var answer = await GenerateAsync(original, request, ct).ConfigureAwait(false);
                var watch = Stopwatch.StartNew();
                await GenerateAsync(checker, request, ct).ConfigureAwait(false);
                regenerateMs += watch.Elapsed.TotalMilliseconds;
                watch.Restart();
                var (verdict, _) = await CheckAsync(checker, rule, request, answer, ct).ConfigureAwait(false);
                scoreMs += watch.Elapsed.TotalMilliseconds;
                greedyTokens += answer.Tokens.Length;
                if (!verdict.Passed)
                {
                    falsePositives.Add("greedy " + verdict.Outcome);
                }
            }
        }

        var checks = greedy.Length * 3;
        var batchedCount = honest.Count(h => h.Batched);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"stories260K, rule: tolerance {rule.LogitTolerance}, {rule.ToleratedPerHundred}+1 per 100 out of support, z floor -{rule.LikelihoodZFloor}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"honest sampled answers: {honest.Count} ({batchedCount} generated in batches of 8), {scoredTokens} tokens; false positives: {falsePositives.Count - 0} ({(double)falsePositives.Count / (honest.Count + checks):P2}); worst z {worstZ:F2}, most out-of-support tokens in one answer {worstMisses}"));
        foreach (var fp in falsePositives)
        {
            Console.WriteLine("  false positive: " + fp);
        }

        Console.WriteLine("dishonest answers                     caught / tried");
        foreach (var (kind, (caught, tried)) in cheats)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {kind,-36} {caught,4} / {tried,-4} {(double)caught / tried:P1}"));
        }

        var perToken = (double)reportBytes / scoredTokens;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"report: {perToken:F0} bytes per scored token ({perToken * 4 / 3:F0} as base64 in the sealed reply) over this mix; per token 10 + 8 × (top-k, or 256 with top-k off, + 64 with a repetition penalty), 26 greedy"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"greedy check of a {greedyTokens / (double)checks:F0}-token answer: regenerate {regenerateMs / checks:F1} ms, score {scoreMs / checks:F1} ms (×{regenerateMs / scoreMs:F1})"));
        var path = await bench.WriteJsonAsync("spotcheck", new
        {
            honest = honest.Count,
            batched = batchedCount,
            greedyChecks = checks,
            falsePositives,
            worstZ,
            worstMisses,
            cheats = cheats.ToDictionary(c => c.Key, c => new { c.Value.Caught, c.Value.Tried }),
            bytesPerScoredToken = perToken,
            regenerateMs = regenerateMs / checks,
            scoreMs = scoreMs / checks,
        }).ConfigureAwait(false);
        Console.WriteLine($"written {path}");
    }

    private sealed record Answer(string Text, int[] Tokens, FinishReason Finish);

    private static GenerationRequest Request(Random random, string prompt, uint seed) => new()
    {
        Prompt = prompt,
        Sampling = new SamplingOptions
        {
            Temperature = (float)Math.Round(0.7 + (random.Next(4) * 0.1), 1),
            TopK = random.Next(3) == 0 ? 0 : 40,
            RepetitionPenalty = random.Next(4) == 0 ? 1.1f : 1f,
            MaxTokens = 160,
            Seed = seed,
        },
    };

    private static Task<LlamaInferenceService> LoadAsync(string model, TempDir data, int batchSize, CancellationToken ct) =>
        LlamaInferenceService.LoadAsync(
            new LlamaInferenceOptions
            {
                Model = model,
                LibraryDir = Environment.GetEnvironmentVariable("COCOON_LLAMA_LIB_DIR"),
                Threads = 1,
                ContextSize = 256,
                MaxConcurrency = 8,
                BatchSize = batchSize,
                DataDir = data.Path,
            },
            NullLoggerFactory.Instance, TimeProvider.System, null, ct);

    private static async Task<Answer[]> SequentialAsync(LlamaInferenceService service, GenerationRequest[] requests, CancellationToken ct)
    {
        var answers = new Answer[requests.Length];
        for (var i = 0; i < requests.Length; i++)
        {
            answers[i] = await GenerateAsync(service, requests[i], ct).ConfigureAwait(false);
        }

        return answers;
    }

    private static async Task<Answer> GenerateAsync(LlamaInferenceService service, GenerationRequest request, CancellationToken ct)
    {
        var text = new StringBuilder();
        await foreach (var chunk in service.GenerateAsync(request, ct).ConfigureAwait(false))
        {
            text.Append(chunk.Text);
            if (chunk.Usage is { } usage)
            {
                return new Answer(text.ToString(), [.. usage.AnswerTokens!], usage.FinishReason);
            }
        }

        throw new InvalidOperationException("The stream ended without a final chunk.");
    }

    /// <summary>A cheater's answer: these tokens, the text they spell, and the finish it claims.</summary>
    private static Answer Spelled(LlamaInferenceService service, int[] tokens, GenerationRequest request, FinishReason finish) =>
        new(service.Spell(tokens, request.Sampling.Stop).Text, tokens, finish);

    private static async Task<(SpotCheckVerdict Verdict, int Bytes)> CheckAsync(
        LlamaInferenceService checker, SpotCheckRule rule, GenerationRequest request, Answer answer, CancellationToken ct)
    {
        var scored = await checker.ScoreAsync(request with { Score = new ScoreRequest(answer.Tokens) }, ct).ConfigureAwait(false);
        var bytes = scored.Report.ToBytes();
        return (ScoreJudge.Judge(rule, request.Sampling, answer.Tokens, ScoreReport.Parse(bytes), answer.Text, answer.Finish), bytes.Length);
    }
}
