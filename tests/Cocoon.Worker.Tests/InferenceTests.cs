using System.Text;
using Cocoon.Engine.Protocol;
using Cocoon.Testing;
using Cocoon.Worker.Inference;

namespace Cocoon.Worker.Tests;

public sealed class InferenceTests(LlamaFixture fixture) : IClassFixture<LlamaFixture>
{
    // Recorded with node-llama-cpp 3.22.1 on the same prebuilt llama.cpp (tests/Cocoon.Bench/node/bench.mjs:
    // `node bench.mjs stories260K.gguf 1 "Once upon a time" 64 1`, greedy, BOS + prompt tokens [1,403,407,261,378]).
    private const string ExpectedGreedy =
        ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. " +
        "She wanted to play with it, but it was too high.\nLily's mom said";

    private static readonly string[] GreedyPrompts = ["Once upon a time", "One day, a cat", "The sun was", "Tom and Sue"];
    private static readonly string[] SampledPrompts = ["Lily had a dog", "The big tree", "A bird sang", "Mom said"];

    private LlamaInferenceService Service => fixture.Service;

    [Fact]
    public async Task GreedyOutputIsWhatLlamaCppProduces()
    {
        var (text, usage) = await RunAsync(Raw("Once upon a time", 64, 0));
        Assert.Equal(ExpectedGreedy, text);
        Assert.Equal(5, usage.PromptTokens);
        Assert.Equal(64, usage.CompletionTokens);
        Assert.Equal(FinishReason.Length, usage.FinishReason);
    }

    [Fact]
    public async Task EightConcurrentRequestsGiveTheSameOutputsAsOneAtATime()
    {
        var requests = Enumerable.Range(0, 8).Select(i => i % 2 == 0
            ? Raw(GreedyPrompts[i / 2], 40 + (i * 3), 0)
            : Raw(SampledPrompts[i / 2], 30 + (i * 5), 0.9f, (uint)(i * 7919))).ToList();

        var alone = new List<(string, GenerationUsage)>();
        foreach (var r in requests)
        {
            alone.Add(await RunAsync(r));
        }

        var together = await Task.WhenAll(requests.Select(r => Task.Run(() => RunAsync(r))));
        for (var i = 0; i < requests.Count; i++)
        {
            Assert.Equal(alone[i].Item1, together[i].Item1);
            Assert.Equal(alone[i].Item2.CompletionTokens, together[i].Item2.CompletionTokens);
        }

        Assert.Contains(together, t => t.Item1.Length > 50);
    }

    /// <summary>
    /// Seeded sampling in a batch: 24 seeded answers at temperature 0.7 to 1.0 (as issue 14 measured them), each alone and
    /// in batches of 8. Without the padding of lone decode steps (DecodeLoop.BatchInvariance.cs) 2 of these 24 differ on
    /// this model with llama.cpp 3.22.1's CPU backend, and this test fails. The measured limit: with it, the logits of a
    /// padded lone step still differ from a batched one in the last bits (attention; `./cocoon bench llama-seeded`), so
    /// these 24 agreeing is what was measured here, not a proof that batching can never change a seeded answer.
    /// </summary>
    [Fact]
    public async Task SeededSampledAnswersAreTheSameInABatchOfEightAsAlone()
    {
        float[] temperatures = [0.7f, 0.8f, 0.9f, 1.0f];
        string[] prompts = [.. GreedyPrompts, .. SampledPrompts];
        var requests = Enumerable.Range(0, 24).Select(i => Raw(prompts[i % 8], 64, temperatures[i % 4], (uint)(i * 7919) + 1)).ToList();
        var alone = new List<(string Text, GenerationUsage Usage)>();
        foreach (var r in requests)
        {
            alone.Add(await RunAsync(r));
        }

        var together = new List<(string Text, GenerationUsage Usage)>();
        foreach (var group in requests.Chunk(8))
        {
            together.AddRange(await Task.WhenAll(group.Select(r => Task.Run(() => RunAsync(r)))));
        }

        Assert.Equal(alone.Select(a => a.Text), together.Select(t => t.Text));
        Assert.True(alone.Select(a => a.Text).Distinct().Count() > 20, "the seeds sample different answers");
    }

    [Fact]
    public async Task TheSameSeedGivesTheSameTokens()
    {
        var a = await RunAsync(Raw("The dog", 48, 1.0f, 1234));
        var b = await RunAsync(Raw("The dog", 48, 1.0f, 1234));
        var c = await RunAsync(Raw("The dog", 48, 1.0f, 4321));
        Assert.Equal(a.Text, b.Text);
        Assert.NotEqual(a.Text, c.Text);
    }

    [Fact]
    public async Task CancellingMidStreamStopsFreesTheSequenceAndTheNextRequestWorks()
    {
        using var cts = new CancellationTokenSource();
        var seen = 0;
        GenerationUsage? usage = null;
        long stepsAtCancel = -1;

        // Registered first, so it runs after the service's own callback (callbacks run in reverse order).
        using var mark = cts.Token.Register(() => stepsAtCancel = Service.DecodeSteps);
        await foreach (var chunk in Service.GenerateAsync(Raw("Once upon a time", 200, 0), cts.Token))
        {
            if (chunk.Usage is { } u)
            {
                usage = u;
                continue;
            }

            if (++seen == 5)
            {
                await cts.CancelAsync();
            }
        }

        Assert.NotNull(usage);
        Assert.Equal(FinishReason.Cancelled, usage.FinishReason);

        // At most the decode step in flight when the cancel came runs (or is aborted); no further step for it.
        Assert.InRange(Service.DecodeSteps - stepsAtCancel, 0, 1);
        Assert.InRange(usage.CompletionTokens, 5, 199);
        await WaitUntilAsync(() => Service.FreeSequences == Service.MaxConcurrency);

        var (text, after) = await RunAsync(Raw("Once upon a time", 64, 0));
        Assert.Equal(ExpectedGreedy, text);
        Assert.Equal(FinishReason.Length, after.FinishReason);
    }

    [Fact]
    public async Task AConsumerThatStopsReadingFreesItsSequence()
    {
        await foreach (var chunk in Service.GenerateAsync(Raw("The sun was", 200, 0), CancellationToken.None))
        {
            Assert.NotNull(chunk);
            break;
        }

        await WaitUntilAsync(() => Service.FreeSequences == Service.MaxConcurrency);
    }

    [Fact]
    public async Task ACancelledRequestStillInTheQueueEndsCancelled()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var (text, usage) = await RunAsync(Raw("Once upon a time", 16, 0), cts.Token);
        Assert.Equal(string.Empty, text);
        Assert.Equal(FinishReason.Cancelled, usage.FinishReason);
    }

    [Theory]
    [InlineData(0, 0f, "Once", "max_tokens")]
    [InlineData(-3, 0f, "Once", "max_tokens")]
    [InlineData(16, -0.5f, "Once", "temperature")]
    [InlineData(16, 2.5f, "Once", "temperature")]
    [InlineData(16, float.NaN, "Once", "temperature")]
    [InlineData(16, 0f, "", "empty")]
    public async Task BadRequestsAreClearErrorsAndTheServiceLives(int maxTokens, float temperature, string prompt, string named)
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => RunAsync(Raw(prompt, maxTokens, temperature)));
        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
        Assert.Equal(ExpectedGreedy, (await RunAsync(Raw("Once upon a time", 64, 0))).Text);
    }

    [Theory]
    [InlineData(1, LlamaFixture.ContextSize)]
    [InlineData(60, 8)]
    [InlineData(20, LlamaFixture.ContextSize - 16)]
    public async Task APromptAndAnswerThatDoNotFitTheContextAreRefusedWithTheNumbers(int sentences, int maxTokens)
    {
        var prompt = string.Join(' ', Enumerable.Repeat("Once upon a time there was a cat.", sentences));
        var ex = await Assert.ThrowsAsync<ContextExceededException>(() => RunAsync(Raw(prompt, maxTokens, 0)));
        Assert.Equal(maxTokens, ex.MaxTokens);
        Assert.Equal(Service.ContextLength, ex.ContextLength);
        Assert.True(ex.PromptTokens + ex.MaxTokens > ex.ContextLength, ex.Message);
        Assert.Contains($"maximum context length is {Service.ContextLength} tokens", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"{ex.PromptTokens} in the prompt, {maxTokens} in max_tokens", ex.Message, StringComparison.Ordinal);
        Assert.Equal(ExpectedGreedy, (await RunAsync(Raw("Once upon a time", 64, 0))).Text);
    }

    [Fact]
    public async Task AnAnswerThatExactlyFillsTheContextIsServedInFull()
    {
        var probe = await Assert.ThrowsAsync<ContextExceededException>(() => RunAsync(Raw("Once upon a time", LlamaFixture.ContextSize, 0)));
        var (_, usage) = await RunAsync(Raw("Once upon a time", LlamaFixture.ContextSize - probe.PromptTokens, 0));
        Assert.NotEqual(FinishReason.ContextFull, usage.FinishReason);
        Assert.True(usage.PromptTokens + usage.CompletionTokens <= Service.ContextLength);
    }

    [Fact]
    public async Task BadSamplingAndMessagesAreRejected()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => RunAsync(new GenerationRequest { Prompt = "x", Sampling = new SamplingOptions { TopP = 0 } }));
        await Assert.ThrowsAsync<ArgumentException>(() => RunAsync(new GenerationRequest { Prompt = "x", Sampling = new SamplingOptions { MinP = 2 } }));
        await Assert.ThrowsAsync<ArgumentException>(() => RunAsync(new GenerationRequest { Prompt = "x", Sampling = new SamplingOptions { RepetitionPenalty = 0 } }));
        await Assert.ThrowsAsync<ArgumentException>(() => RunAsync(new GenerationRequest { Prompt = "x", Sampling = new SamplingOptions { Stop = [""] } }));
        await Assert.ThrowsAsync<ArgumentException>(() => RunAsync(new GenerationRequest { Messages = [] }));
        await Assert.ThrowsAsync<ArgumentException>(() => RunAsync(new GenerationRequest { Messages = [new ChatMessage("robot", "hi")] }));
        await Assert.ThrowsAsync<ArgumentException>(() => RunAsync(new GenerationRequest { Prompt = "x", Messages = [new ChatMessage("user", "hi")] }));
    }

    [Fact]
    public async Task StopStringsEndTheStreamWithoutTheirText()
    {
        var (text, usage) = await RunAsync(Raw("Once upon a time", 64, 0) with { Sampling = new SamplingOptions { MaxTokens = 64, Temperature = 0, Stop = ["Lily."] } });
        Assert.Equal(", there was a little girl named ", text);
        Assert.Equal(FinishReason.Stop, usage.FinishReason);
    }

    [Fact]
    public async Task ChatMessagesWithoutATemplateUseThePlainFormat()
    {
        Assert.False(Service.Model.HasChatTemplate);
        var messages = new[] { new ChatMessage("system", "Be kind."), new ChatMessage("user", "Tell me a story.") };
        Assert.Equal("System: Be kind.\nUser: Tell me a story.\nAssistant:", Native.LlamaModel.PlainChat(messages));
        var (text, usage) = await RunAsync(new GenerationRequest { Messages = messages, Sampling = new SamplingOptions { MaxTokens = 16, Temperature = 0 } });
        Assert.NotEmpty(text);
        Assert.Equal(16, usage.CompletionTokens);
    }

    [Fact]
    public void AChatTemplateIsAppliedByLlamaCpp()
    {
        // The small model has no template; llama.cpp's built-in chatml template exercises the same native path a GGUF template takes.
        var messages = new[] { new ChatMessage("system", "Be kind."), new ChatMessage("user", "Hi ü") };
        Assert.Equal(
            "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi ü<|im_end|>\n<|im_start|>assistant\n",
            Native.LlamaModel.ApplyTemplate("chatml", messages));
        Assert.Null(Native.LlamaModel.ApplyTemplate("no such template {{ nonsense", messages));
    }

    [Fact]
    public async Task ChunksAreWholeCharacters()
    {
        var chunks = new List<string>();
        await foreach (var chunk in Service.GenerateAsync(Raw("Once upon a time", 120, 1.2f, 99), CancellationToken.None))
        {
            chunks.Add(chunk.Text);
        }

        Assert.All(chunks, c => Assert.True(c.Length == 0 || !char.IsHighSurrogate(c[^1])));
        Assert.Equal(string.Concat(chunks), Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(string.Concat(chunks))));
    }

    [Fact]
    public async Task EveryTokenIsAChunkWithoutAnInterval()
    {
        var chunks = 0;
        await foreach (var chunk in Service.GenerateAsync(Raw("Once upon a time", 64, 0), CancellationToken.None))
        {
            chunks += chunk.Text.Length > 0 ? 1 : 0;
        }

        Assert.InRange(chunks, 60, 64);
    }

    [Fact]
    public async Task AChunkIntervalSendsTheFirstTextAtOnceAndGathersTheRest()
    {
        using var data = new TempDir("cocoon-llama-test");
        using var service = await LlamaInferenceService.LoadAsync(
            LlamaFixture.Options(data) with { ChunkIntervalMs = 1000, MaxConcurrency = 1 }, LlamaFixture.Loggers, TimeProvider.System, null, CancellationToken.None);
        var chunks = new List<string>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await foreach (var chunk in service.GenerateAsync(Raw("Once upon a time", 64, 0), CancellationToken.None))
        {
            chunks.Add(chunk.Text);
        }

        Assert.Equal(ExpectedGreedy, string.Concat(chunks));
        Assert.Equal(",", chunks[0]); // the first token, alone
        Assert.InRange(chunks.Count(c => c.Length > 0), 2, 2 + (int)clock.Elapsed.TotalSeconds);
    }

    [Fact]
    public void TheModelIdentityIsTheFilesHash()
    {
        var m = Service.Model;
        Assert.Equal("270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d", m.Sha256);
        Assert.Equal("llama", m.Architecture);
        Assert.Equal("stories260K", m.Name);
        Assert.True(m.ParameterCount is > 200_000 and < 400_000);
        Assert.Equal(LlamaFixture.ContextSize, m.ContextLength);
        Assert.True(File.Exists(fixture.Data.File("model-hashes.json")));
    }

    internal static GenerationRequest Raw(string prompt, int maxTokens, float temperature, uint seed = 42) =>
        new() { Prompt = prompt, Sampling = new SamplingOptions { MaxTokens = maxTokens, Temperature = temperature, Seed = seed } };

    private async Task<(string Text, GenerationUsage Usage)> RunAsync(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        var text = new StringBuilder();
        GenerationUsage? usage = null;
        await foreach (var chunk in Service.GenerateAsync(request, cancellationToken))
        {
            Assert.Null(usage);
            text.Append(chunk.Text);
            usage = chunk.Usage;
        }

        Assert.NotNull(usage);
        return (text.ToString(), usage);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(25);
        }

        Assert.True(condition());
    }
}
