using Cocoon.Bot.Dispatch;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Cocoon.Bot.Tests.Hosting;

/// <summary>
/// The real gateway (Program.cs, as shipped) on a free loopback port with Kestrel, pointed at the test's Redis and
/// data folder, with every log line captured at Trace level. <paramref name="dispatcher"/> replaces the registered
/// dispatcher only when a test needs failures a real worker can't be made to produce on demand.
/// </summary>
public sealed class GatewayFactory(string redisEndpoint, string dataDir, string apiKey, IDispatcher? dispatcher = null, IDictionary<string, string?>? settings = null)
    : WebApplicationFactory<Program>
{
    public CapturingLoggerProvider Logs { get; } = new();

    public Uri BaseAddress { get; private set; } = null!;

    public string ApiKey => apiKey;

    /// <summary>Starts Kestrel on a free port (or the given one, when a setting must name it) and returns its address.</summary>
    public Uri Start(int port = 0)
    {
        UseKestrel(port);
        StartServer();
        BaseAddress = ClientOptions.BaseAddress;
        using var client = CreateClient();
        BaseAddress = client.BaseAddress!;
        return BaseAddress;
    }

    public HttpClient CreateApiClient()
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        return client;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Redis:Endpoint", redisEndpoint);
        builder.UseSetting("Cocoon:DataDir", dataDir);
        builder.UseSetting("Gateway:ApiKey", apiKey);
        builder.UseSetting("Gateway:MaxRequestBodyBytes", "65536");
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs));
        if (dispatcher is not null)
        {
            builder.ConfigureTestServices(services => services.Replace(ServiceDescriptor.Singleton(dispatcher)));
        }
    }
}
