using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Cocoon.Engine.Protocol;
using Cocoon.Testing;
using Cocoon.Worker.Inference;
using Cocoon.Worker.Native;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cocoon.Bench.Llama;

/// <summary>
/// Does batching change a seeded answer? (issue 14.) Two measurements per model, on the stories260K model and the
/// synthetic 315M Q8_0 model of `bench llama-q8`:
/// <list type="number">
/// <item>Answers: 24 seeded sampled requests (temperature 0.7, 0.8, 0.9, 1.0 in turn) and 24 greedy ones, each run
/// alone and then in batches of 8 concurrent requests through the worker's inference service; how many texts differ.</item>
/// <item>Logits: on a raw llama.cpp context set up like the decode loop's, sequence 0's logits for the same tokens
/// computed alone and in a batch with 7 other sequences (its prompt's last token; then one generation step): how many
/// of the vocabulary's floats differ and by how much. Sampler chains are per sequence (own seeded RNG), so if the
/// logits are bit-identical the batch cannot change an answer, and if they are not it can.</item>
/// </list>
/// </summary>
public static class SeededBatchBenchmark
{
    private static readonly string[] Prompts =
    [
        "Once upon a time", "Lily had a dog", "The big tree", "A bird sang", "Mom said", "Tom and Sue", "The sun was", "One day, a cat",
    ];

    private static readonly float[] Temperatures = [0.7f, 0.8f, 0.9f, 1.0f];

    public static async Task RunAsync(BenchContext bench)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var ct = bench.CancellationToken;
        var results = new List<object>();
        var shape = SyntheticGguf.Shape.Default;
        var large = await SyntheticGguf.EnsureAsync(Path.Combine(bench.OutputDir, "models", "synthetic-315M-q8_0.gguf"), SharedFiles.SmallModel, shape, ct).ConfigureAwait(false);
        // COCOON_BENCH_SEEDED_SMALL_ONLY=true: the small model only (the large one takes minutes on a busy machine).
        var smallOnly = Environment.GetEnvironmentVariable("COCOON_BENCH_SEEDED_SMALL_ONLY") == "true";
        foreach (var (label, model, maxTokens) in new[] { ("stories260K", SharedFiles.SmallModel, 64), ($"synthetic {shape.Parameters(512) / 1e6:F0}M Q8_0", large, 32) }.Take(smallOnly ? 1 : 2))
        {
            using var data = new TempDir("cocoon-bench-seeded");
            var options = new LlamaInferenceOptions
            {
                Model = model,
                LibraryDir = Environment.GetEnvironmentVariable("COCOON_LLAMA_LIB_DIR"),
                Threads = 2,
                ContextSize = 256,
                MaxConcurrency = 8,
                DataDir = data.Path,
            };
            using var service = await LlamaInferenceService.LoadAsync(options, NullLoggerFactory.Instance, TimeProvider.System, null, ct).ConfigureAwait(false);
            var sampled = Enumerable.Range(0, 24).Select(i => Request(Prompts[i % 8], maxTokens, Temperatures[i % 4], (uint)(i * 7919) + 1)).ToList();
            var greedy = Enumerable.Range(0, 24).Select(i => Request(Prompts[i % 8], maxTokens, 0, 1)).ToList();
            var (sampledDiffer, firstDiff) = await CompareAsync(service, sampled, ct).ConfigureAwait(false);
            var (greedyDiffer, _) = await CompareAsync(service, greedy, ct).ConfigureAwait(false);
            var logits = Logits(model, options);
            var line = string.Create(CultureInfo.InvariantCulture,
                $"{label}: answers differing batch of 8 vs alone: sampled {sampledDiffer}/24 (first differing character at {string.Join(",", firstDiff)}), greedy {greedyDiffer}/24; " +
                $"logits of seq 0 alone vs with 7 others: prefill {logits.PrefillDiffering}/{logits.Vocab} floats differ (max |d| {logits.PrefillMax:G3}), " +
                $"generation step {logits.StepDiffering}/{logits.Vocab} (max |d| {logits.StepMax:G3}), argmax {(logits.ArgmaxSame ? "same" : "differs")}; " +
                $"step of 2 sequences vs 8: {logits.TwoDiffering} differ (max |d| {logits.TwoMax:G3}); lone step padded to 2 rows vs 8: {logits.PaddedDiffering} differ (max |d| {logits.PaddedMax:G3})");
            Console.WriteLine(line);
            results.Add(new { model = label, sampledDiffer, greedyDiffer, firstDiff, logits });
        }

        await bench.WriteJsonAsync("llama-seeded", results).ConfigureAwait(false);
    }

    private static GenerationRequest Request(string prompt, int maxTokens, float temperature, uint seed) =>
        new() { Prompt = prompt, Sampling = new SamplingOptions { MaxTokens = maxTokens, Temperature = temperature, Seed = seed, RepetitionPenalty = 1f } };

    private static async Task<(int Differ, List<int> FirstDiff)> CompareAsync(LlamaInferenceService service, List<GenerationRequest> requests, CancellationToken ct)
    {
        var alone = new List<string>();
        foreach (var r in requests)
        {
            alone.Add(await RunAsync(service, r, ct).ConfigureAwait(false));
        }

        var together = new List<string>();
        foreach (var group in requests.Chunk(8))
        {
            together.AddRange(await Task.WhenAll(group.Select(r => Task.Run(() => RunAsync(service, r, ct), ct))).ConfigureAwait(false));
        }

        var first = new List<int>();
        for (var i = 0; i < requests.Count; i++)
        {
            if (alone[i] != together[i])
            {
                var j = 0;
                while (j < Math.Min(alone[i].Length, together[i].Length) && alone[i][j] == together[i][j])
                {
                    j++;
                }

                first.Add(j);
            }
        }

        return (first.Count, first);
    }

    private static async Task<string> RunAsync(LlamaInferenceService service, GenerationRequest request, CancellationToken ct)
    {
        var text = new StringBuilder();
        await foreach (var chunk in service.GenerateAsync(request, ct).ConfigureAwait(false))
        {
            text.Append(chunk.Text);
        }

        return text.ToString();
    }

    private sealed record LogitsDiff(
        int Vocab, int PrefillDiffering, double PrefillMax, int StepDiffering, double StepMax, bool ArgmaxSame, int PaddedDiffering, double PaddedMax, int TwoDiffering, double TwoMax);

    /// <summary>Sequence 0's logits alone and beside 7 other sequences, on a context set up as DecodeLoop sets up its own.</summary>
    private static LogitsDiff Logits(string path, LlamaInferenceOptions options)
    {
        var library = NativeLibrary.Load(LlamaLibrary.Loaded!.LlamaPath);
        var getLogits = Marshal.GetDelegateForFunctionPointer<GetLogitsIth>(NativeLibrary.GetExport(library, "llama_get_logits_ith"));
        using var model = LlamaModel.Load(path, null, CancellationToken.None);
        var parameters = LlamaNative.llama_context_default_params();
        parameters.NCtx = (uint)(options.ContextSize * options.MaxConcurrency);
        parameters.NSeqMax = (uint)options.MaxConcurrency;
        parameters.NBatch = (uint)options.BatchSize;
        parameters.NUbatch = (uint)options.BatchSize;
        parameters.NThreads = options.Threads;
        parameters.NThreadsBatch = options.Threads;
        parameters.KvUnified = 0;
        parameters.NoPerf = 1;
        using var context = SafeLlamaContextHandle.Create(model.Handle, parameters);
        using var batch = SafeLlamaBatchHandle.Create(options.BatchSize);
        var memory = LlamaNative.llama_get_memory(context);
        var prompts = Prompts.Select(p => model.Tokenize(p)).ToArray();
        var vocab = model.VocabSize;

        float[] Decode(int sequences, int[] tokensForStep, bool pad = false)
        {
            // Prefill the first `sequences` prompts in one batch; sequence 0's last prompt token gives logits.
            LlamaNative.llama_memory_clear(memory, true);
            var n = 0;
            var index0 = -1;
            for (var s = 0; s < sequences; s++)
            {
                for (var p = 0; p < prompts[s].Length; p++)
                {
                    var last = p == prompts[s].Length - 1;
                    if (s == 0 && last)
                    {
                        index0 = n;
                    }

                    batch.Set(n++, prompts[s][p], p, s, last);
                }
            }

            Check(LlamaNative.llama_decode(context, batch.View(n)));
            var prefill = Copy(getLogits(context.DangerousGetHandle(), index0), vocab);
            if (tokensForStep.Length == 0)
            {
                return prefill;
            }

            // One generation step: a token for each of the sequences (sequence 0's output first).
            n = 0;
            for (var s = 0; s < sequences; s++)
            {
                batch.Set(n++, tokensForStep[s], prompts[s].Length, s, true);
            }

            if (pad)
            {
                // A second row for the lone sequence: its next token again, one position on (no output).
                batch.Set(n++, tokensForStep[0], prompts[0].Length + 1, 0, false);
            }

            Check(LlamaNative.llama_decode(context, batch.View(n)));
            return Copy(getLogits(context.DangerousGetHandle(), 0), vocab);
        }

        var step = Enumerable.Range(0, 8).Select(s => prompts[s][^1]).ToArray();
        var prefillAlone = Decode(1, []);
        var prefillBatched = Decode(8, []);
        var stepAlone = Decode(1, step);
        var stepBatched = Decode(8, step);
        var stepPadded = Decode(1, step, pad: true);
        var stepTwo = Decode(2, step);
        var (pd, pm) = Diff(prefillAlone, prefillBatched);
        var (sd, sm) = Diff(stepAlone, stepBatched);
        var (padded, paddedMax) = Diff(stepPadded, stepBatched);
        var (two, twoMax) = Diff(stepTwo, stepBatched);
        return new LogitsDiff(vocab, pd, pm, sd, sm, ArgMax(stepAlone) == ArgMax(stepBatched) && ArgMax(prefillAlone) == ArgMax(prefillBatched), padded, paddedMax, two, twoMax);
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate nint GetLogitsIth(nint context, int index);

    private static float[] Copy(nint logits, int count)
    {
        var copy = new float[count];
        Marshal.Copy(logits, copy, 0, count);
        return copy;
    }

    private static void Check(int rc)
    {
        if (rc != 0)
        {
            throw new LlamaException($"llama_decode failed with {rc}");
        }
    }

    private static (int Differing, double Max) Diff(float[] a, float[] b)
    {
        var (n, max) = (0, 0.0);
        for (var i = 0; i < a.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i]))
            {
                n++;
                max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
            }
        }

        return (n, max);
    }

    private static int ArgMax(float[] a)
    {
        var best = 0;
        for (var i = 1; i < a.Length; i++)
        {
            if (a[i] > a[best])
            {
                best = i;
            }
        }

        return best;
    }
}
