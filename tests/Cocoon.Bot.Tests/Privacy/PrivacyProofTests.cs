using System.ClientModel;
using System.Net;
using System.Text;
using Cocoon.Bot.Tests.Hosting;
using OpenAI;
using OpenAI.Chat;

namespace Cocoon.Bot.Tests.Privacy;

/// <summary>
/// The product's promise, checked end to end: a conversation with a unique canary goes through the gateway's HTTP
/// API, the dispatcher, Redis and a real worker, and afterwards neither the canary nor the answer is anywhere the
/// operators can look: every Redis key and value of every type (streams entry by entry), the AOF on disk, every file
/// under COCOON_DATA (ledger database, keys), every log line at Trace level, and /metrics. Also in base64 and hex.
/// </summary>
public sealed class PrivacyProofTests(FullStackFixture stack) : IClassFixture<FullStackFixture>
{
    [Fact]
    public async Task Canary_prompt_and_answer_leave_no_trace_outside_the_sealed_path()
    {
        var canary = "canary" + Guid.NewGuid().ToString("N");
        var prompt = $"Once upon a time {canary} met a little dog.";
        var client = new ChatClient(stack.ModelName, new ApiKeyCredential(stack.Gateway.ApiKey), new OpenAIClientOptions { Endpoint = new Uri(stack.Gateway.BaseAddress, "v1") });

        // A two-turn conversation, streamed and not, plus a raw completion with the same canary.
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 40, Temperature = 0 };
        var first = new StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(prompt)], options))
        {
            foreach (var part in update.ContentUpdate)
            {
                first.Append(part.Text);
            }
        }

        ChatCompletion second = await client.CompleteChatAsync(
            [new UserChatMessage(prompt), new AssistantChatMessage(first.ToString()), new UserChatMessage($"And then {canary} said hello.")], options);
        using var http = stack.Gateway.CreateApiClient();
        using var completion = await http.PostAsync("v1/completions", new StringContent(
            $$"""{"model":"{{stack.ModelName}}","prompt":"{{prompt}}","max_tokens":40,"temperature":0}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, completion.StatusCode);

        var answers = new[] { first.ToString(), second.Content[0].Text };
        Assert.All(answers, a => Assert.True(a.Trim().Length >= 20, $"the small model answered too little to search for: '{a}'"));

        // What must not be found: the canary in every encoding, and each answer (whole, and in 24-character windows
        // so a partial leak is caught too).
        var needles = PrivacyScanner.Encodings(canary).ToList();
        foreach (var answer in answers)
        {
            needles.AddRange(PrivacyScanner.AnswerWindows(answer));
        }

        var haystacks = await PrivacyScanner.EverywhereAsync(stack.Redis, stack.Data.Path, stack.Logs, stack.Gateway.BaseAddress);

        // The scan must have looked at something real: streams with sealed jobs, the ledger file, logs about the requests.
        Assert.Contains(haystacks, h => h.Where.Contains("jobs:", StringComparison.Ordinal));
        Assert.Contains(haystacks, h => h.Where.EndsWith("ledger.db", StringComparison.Ordinal) || h.Where.Contains("ledger.db", StringComparison.Ordinal));
        Assert.Contains(haystacks, h => h.Where.Contains("appendonly", StringComparison.Ordinal));
        Assert.True(stack.Logs.Lines.Count > 20);

        var leaks = PrivacyScanner.Leaks(haystacks, needles);
        Assert.True(leaks.Count == 0, string.Join("\n", leaks));

        // And the check can fail: the canary is plainly in the request we sent, so a haystack holding it is caught.
        Assert.Contains(needles, n => Encoding.UTF8.GetBytes(prompt).AsSpan().IndexOf(n.Bytes) >= 0);

        // The API key is not logged either.
        Assert.DoesNotContain(stack.Logs.Lines, l => l.Contains(stack.Gateway.ApiKey, StringComparison.Ordinal));
    }
}
