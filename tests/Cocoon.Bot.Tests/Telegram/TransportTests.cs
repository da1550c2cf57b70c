using System.Net;
using System.Text;
using Cocoon.Bot.Telegram.Transport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Polly.Registry;

namespace Cocoon.Bot.Tests.Telegram;

public sealed class TransportTests
{
    [Fact]
    public async Task The_token_bucket_never_lets_more_than_the_rate_through()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var throttle = new SendThrottle(time, perSecond: 30, burst: 30);
        for (var i = 0; i < 30; i++)
        {
            await throttle.AcquireAsync(default); // the burst is available at once
        }

        var next = throttle.AcquireAsync(default);
        await Task.Delay(50);
        Assert.False(next.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(20));
        await Task.Delay(50);
        Assert.False(next.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(20));
        await next.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Group_slots_wait_within_the_allowance_and_decline_beyond_it()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var limiter = new Cocoon.Bot.Telegram.Groups.GroupRateLimiter(time, perMinute: 2);
        Assert.Equal(TimeSpan.Zero, limiter.Reserve(-1, TimeSpan.FromSeconds(20)));
        time.Advance(TimeSpan.FromSeconds(50));
        Assert.Equal(TimeSpan.Zero, limiter.Reserve(-1, TimeSpan.FromSeconds(20)));
        Assert.Equal(TimeSpan.FromSeconds(10), limiter.Reserve(-1, TimeSpan.FromSeconds(20)));
        Assert.Null(limiter.Reserve(-1, TimeSpan.FromSeconds(20))); // next slot is 60 s away
        Assert.Equal(TimeSpan.Zero, limiter.Reserve(-2, TimeSpan.FromSeconds(20))); // other groups are independent
    }

    /// <summary>
    /// Sends getMe through the bot's real handler and the `telegram-bot-api` pipeline to <paramref name="inner"/>,
    /// moving the injected clock by <paramref name="step"/> until the call ends, so every backoff passes at once.
    /// </summary>
    private static async Task<HttpResponseMessage> GetMeThroughResilienceAsync(FakeTimeProvider time, HttpMessageHandler inner, TimeSpan step)
    {
        using var services = new ServiceCollection().AddSingleton<TimeProvider>(time).AddTelegramResilience().BuildServiceProvider();
        using var handler = new BotApiHandler(
            new SendThrottle(time, 30, 30), null!, services.GetRequiredService<ResiliencePipelineProvider<string>>(), NullLogger<BotApiHandler>.Instance) { InnerHandler = inner };
        using var client = new HttpClient(handler, disposeHandler: false);
        var call = client.PostAsync("http://127.0.0.1:1/bot1:x/getMe", new StringContent("{}", Encoding.UTF8, "application/json"));
        while (!call.IsCompleted)
        {
            time.Advance(step);
            await Task.Delay(10);
        }

        return await call;
    }

    [Fact]
    public async Task A_network_error_is_retried_with_backoff()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var inner = new FlakyHandler(failures: 2);
        using var response = await GetMeThroughResilienceAsync(time, inner, TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, inner.Calls);
    }

    [Fact]
    public async Task A_flood_limit_waits_the_retry_after_telegram_asks_for_on_the_injected_clock()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var inner = new FloodedHandler(time, retryAfterSeconds: 3);
        using var response = await GetMeThroughResilienceAsync(time, inner, TimeSpan.FromMilliseconds(100));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, inner.Calls.Count);

        // The backoff alone would have retried within half a second; retry_after says three.
        Assert.True(inner.Calls[1] - inner.Calls[0] >= TimeSpan.FromSeconds(3), $"retried after {inner.Calls[1] - inner.Calls[0]}");
    }

    [Fact]
    public void The_chat_is_read_from_the_request_body()
    {
        Assert.Equal(-100123L, BotApiHandler.ReadChatId("{\"chat_id\":-100123,\"text\":\"x\"}"u8.ToArray()));
        Assert.Equal(42L, BotApiHandler.ReadChatId("{\"reply_markup\":{\"chat_id\":1},\"chat_id\":\"42\"}"u8.ToArray()));
        Assert.Null(BotApiHandler.ReadChatId("{\"text\":\"chat_id\"}"u8.ToArray()));
        Assert.True(BotApiHandler.IsMessage("sendMessage"));
        Assert.False(BotApiHandler.IsMessage("answerPreCheckoutQuery"));
    }

    /// <summary>Fails like a dropped connection does (SocketsHttpHandler's HttpRequestException), then answers.</summary>
    private sealed class FlakyHandler(int failures) : HttpMessageHandler
    {
        public int Calls { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Calls++;
            if (Calls <= failures)
            {
                throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (127.0.0.1:1)");
            }

            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("{\"ok\":true,\"result\":true}") });
        }
    }

    /// <summary>Answers the first call as Telegram's flood control does (429 with parameters.retry_after), then OK; notes when each call came on the fake clock.</summary>
    private sealed class FloodedHandler(TimeProvider time, int retryAfterSeconds) : HttpMessageHandler
    {
        public List<DateTimeOffset> Calls { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Calls.Add(time.GetUtcNow());
            return Task.FromResult(Calls.Count == 1
                ? new HttpResponseMessage(HttpStatusCode.TooManyRequests)
                {
                    Content = new StringContent($"{{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after {retryAfterSeconds}\",\"parameters\":{{\"retry_after\":{retryAfterSeconds}}}}}"),
                }
                : new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("{\"ok\":true,\"result\":true}") });
        }
    }
}
