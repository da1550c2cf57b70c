using Cocoon.Engine.Protocol;
using Cocoon.Testing;
using Cocoon.Worker.Inference;

namespace Cocoon.Worker.Tests;

/// <summary>
/// The prefix cache on the real model: a conversation's next turn starts from the cells its previous turn left, and the
/// answer is token for token the one a fresh sequence gives (one chunk per token, so equal chunk lists are equal
/// token lists). Each test loads its own service, so its slots and counters are its own.
/// </summary>
public sealed class PrefixCacheTests
{
    private const string ScopeA = "scope-a";
    private const string ScopeB = "scope-b";

    [Theory]
    [InlineData(0f, 42u)]
    [InlineData(0.9f, 7u)]
    [InlineData(1.2f, 31337u)]
    public async Task ASecondTurnFromTheCacheIsTokenForTokenTheAnswerWithoutIt(float temperature, uint seed)
    {
        using var data = new TempDir("cocoon-prefix-test");
        using var service = await LoadAsync(data);

        var first = Request("Once upon a time", 40, temperature, seed, ScopeA);
        var (turn1, usage1) = await RunAsync(service, first);
        Assert.Equal(0, usage1.CachedTokens);

        // The next turn re-sends the history (prompt + answer) and adds to it, as a chat client does.
        var history = "Once upon a time" + string.Concat(turn1) + " Then the little dog said";
        var (cached, cachedUsage) = await RunAsync(service, Request(history, 48, temperature, seed, ScopeA));
        var (fresh, freshUsage) = await RunAsync(service, Request(history, 48, temperature, seed, ScopeB));
        var (unscoped, unscopedUsage) = await RunAsync(service, Request(history, 48, temperature, seed, null));

        Assert.InRange(cachedUsage.CachedTokens, usage1.PromptTokens, cachedUsage.PromptTokens - 1);
        Assert.Equal(0, freshUsage.CachedTokens);
        Assert.Equal(0, unscopedUsage.CachedTokens);
        Assert.Equal(fresh, cached);
        Assert.Equal(unscoped, cached);
        Assert.Equal(freshUsage.CompletionTokens, cachedUsage.CompletionTokens);
        Assert.Equal(freshUsage.PromptTokens, cachedUsage.PromptTokens);
        Assert.True(cachedUsage.CompletionTokens > 10);
        Assert.Equal(new PrefixCacheStats(3, 1, cachedUsage.CachedTokens, 0), service.CacheStats);
    }

    [Fact]
    public async Task TenTurnsOfAConversationMatchFreshSequencesWhileOthersDecodeBesideThem()
    {
        using var data = new TempDir("cocoon-prefix-test");
        using var service = await LoadAsync(data);
        var history = "Tom and Sue";
        var cachedTotal = 0;
        for (var turn = 0; turn < 10; turn++)
        {
            var request = Request(history, 12, turn % 2 == 0 ? 0f : 0.8f, (uint)(turn + 1), ScopeA);

            // A neighbour of another scope runs at the same time, so cached and fresh sequences share batches.
            var neighbour = Task.Run(() => RunAsync(service, Request("The big tree", 30, 0.7f, 9, ScopeB)));
            var (cached, usage) = await RunAsync(service, request);
            cachedTotal += (await neighbour).Usage.CachedTokens;
            var (fresh, _) = await RunAsync(service, request with { CacheScope = null });
            Assert.Equal(fresh, cached);
            if (turn > 0)
            {
                Assert.True(usage.CachedTokens > 0, $"turn {turn + 1} found no cached prefix");
            }

            cachedTotal += usage.CachedTokens;
            history += string.Concat(cached) + " And";
        }

        Assert.Equal(cachedTotal, service.CacheStats.CachedTokens);
    }

    [Fact]
    public async Task AnotherScopeNeverGetsTheCachedPrefixEvenForTheSamePrompt()
    {
        using var data = new TempDir("cocoon-prefix-test");
        using var service = await LoadAsync(data);
        await RunAsync(service, Request("Lily had a dog", 20, 0f, 1, ScopeA));
        var (_, other) = await RunAsync(service, Request("Lily had a dog", 20, 0f, 1, ScopeB));
        var (_, same) = await RunAsync(service, Request("Lily had a dog", 20, 0f, 1, ScopeA));
        Assert.Equal(0, other.CachedTokens);

        // The very same prompt again: all but its last token come from the cache (that one is decoded for the logits).
        Assert.Equal(same.PromptTokens - 1, same.CachedTokens);
    }

    [Fact]
    public async Task TheLeastRecentlyUsedIdleSequenceIsDroppedWhenTheSlotsOrTheBudgetRunOut()
    {
        using var data = new TempDir("cocoon-prefix-test");

        // Two slots: a third scope takes the least recently used idle sequence (A's), so B's is still there.
        using (var service = await LoadAsync(data, maxConcurrency: 2))
        {
            await RunAsync(service, Request("Once upon a time", 8, 0f, 1, ScopeA));
            await RunAsync(service, Request("One day, a cat", 8, 0f, 1, ScopeB));
            Assert.Equal(2, service.FreeSequences);
            await RunAsync(service, Request("The sun was", 8, 0f, 1, "scope-c"));
            Assert.Equal(1, service.CacheStats.Evictions);
            Assert.True((await RunAsync(service, Request("One day, a cat and", 8, 0f, 1, ScopeB))).Usage.CachedTokens > 0);
            Assert.Equal(0, (await RunAsync(service, Request("Once upon a time, a", 8, 0f, 1, ScopeA))).Usage.CachedTokens);
        }

        // A budget of 20 tokens holds one short conversation (about 13): keeping the second drops the first.
        using (var service = await LoadAsync(data, prefixCacheTokens: 20))
        {
            await RunAsync(service, Request("Once upon a time", 8, 0f, 1, ScopeA));
            await RunAsync(service, Request("One day, a cat", 8, 0f, 1, ScopeB));
            Assert.Equal(1, service.CacheStats.Evictions);
            Assert.Equal(0, (await RunAsync(service, Request("Once upon a time, a", 8, 0f, 1, ScopeA))).Usage.CachedTokens);
        }

        // 0 turns the cache off.
        using (var service = await LoadAsync(data, prefixCacheTokens: 0))
        {
            await RunAsync(service, Request("Once upon a time", 8, 0f, 1, ScopeA));
            Assert.Equal(0, (await RunAsync(service, Request("Once upon a time, a", 8, 0f, 1, ScopeA))).Usage.CachedTokens);
            Assert.Equal(new PrefixCacheStats(0, 0, 0, 0), service.CacheStats);
        }
    }

    [Fact]
    public void PrefixCacheTakesTheLongestPrefixOfTheSameScopeAndDropsTheOldestOverBudget()
    {
        var cache = new PrefixCache(10);
        Assert.Empty(cache.Keep(0, ScopeA, [1, 2, 3]));
        Assert.Empty(cache.Keep(1, ScopeA, [1, 2, 9, 9]));
        Assert.Empty(cache.Keep(2, ScopeB, [1, 2, 3]));
        Assert.Equal(10, cache.HeldTokens);

        Assert.False(cache.TryTake("scope-c", [1, 2, 3, 4], out _, out _));
        Assert.True(cache.TryTake(ScopeA, [1, 2, 3, 4], out var id, out var prefix));
        Assert.Equal((0, 3), (id, prefix));

        // Never the whole prompt: its last token must be decoded.
        Assert.True(cache.TryTake(ScopeA, [1, 2, 9], out id, out prefix));
        Assert.Equal((1, 2), (id, prefix));

        Assert.Equal([2], cache.Keep(3, ScopeA, [5, 5, 5, 5, 5, 5, 5, 5]));
        Assert.Equal([4], cache.Keep(4, ScopeA, new int[11]));
        Assert.Equal(8, cache.HeldTokens);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(4 * 256 * 2)]
    public void ABadBudgetIsRefusedAtStartNamingTheSetting(int tokens)
    {
        using var data = new TempDir("cocoon-prefix-test");
        var options = LlamaFixture.Options(data) with { MaxConcurrency = 4, PrefixCacheTokens = tokens };
        var e = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.Contains("Llama:PrefixCacheTokens", e.Message, StringComparison.Ordinal);
    }

    private static Task<LlamaInferenceService> LoadAsync(TempDir data, int maxConcurrency = 4, int? prefixCacheTokens = null) =>
        LlamaInferenceService.LoadAsync(
            LlamaFixture.Options(data) with { MaxConcurrency = maxConcurrency, PrefixCacheTokens = prefixCacheTokens },
            LlamaFixture.Loggers,
            TimeProvider.System,
            null,
            CancellationToken.None);

    private static GenerationRequest Request(string prompt, int maxTokens, float temperature, uint seed, string? scope) =>
        InferenceTests.Raw(prompt, maxTokens, temperature, seed) with { CacheScope = scope };

    private static async Task<(List<string> Chunks, GenerationUsage Usage)> RunAsync(LlamaInferenceService service, GenerationRequest request)
    {
        var chunks = new List<string>();
        GenerationUsage? usage = null;
        await foreach (var chunk in service.GenerateAsync(request, CancellationToken.None))
        {
            if (chunk.Usage is { } u)
            {
                usage = u;
            }
            else
            {
                chunks.Add(chunk.Text);
            }
        }

        Assert.NotNull(usage);
        return (chunks, usage);
    }
}
