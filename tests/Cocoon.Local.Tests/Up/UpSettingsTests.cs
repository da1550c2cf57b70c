using Cocoon.Local.Up;
using Cocoon.Testing;
using Microsoft.Extensions.Configuration;

namespace Cocoon.Local.Tests.Up;

/// <summary>Validating up's settings only reads; the data folder and the key file come in the separate prepare step.</summary>
public sealed class UpSettingsTests
{
    [Fact]
    public void Validation_writes_nothing_and_prepare_creates_the_folder_and_an_owner_only_key()
    {
        using var temp = new TempDir("cocoon-up-settings");
        var dataDir = Path.Combine(temp.Path, "data");
        var program = Path.Combine(temp.Path, "program");
        File.WriteAllText(program, string.Empty);
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Cocoon:DataDir"] = dataDir })
            .AddCommandLine(["--gateway", program, "--worker", program], UpSettings.SwitchMappings)
            .Build();

        var settings = UpSettings.From(configuration);
        Assert.False(Directory.Exists(dataDir));
        Assert.Equal(program, settings.GatewayExe);
        Assert.Equal(program, settings.WorkerExe);

        var (key, generated) = LocalDataFolder.Prepare(settings);
        Assert.True(generated);
        Assert.Equal(key, LocalDataFolder.ReadSavedApiKey(dataDir));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dataDir, "api-key")));
        }

        // The next run reuses the saved key.
        Assert.Equal((key, false), LocalDataFolder.Prepare(settings));
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080", null, null, "127.0.0.1:8080")]
    [InlineData("http://localhost:5000", null, null, "localhost:5000")]
    [InlineData("http://0.0.0.0:8080", null, null, "localhost:8080")]
    [InlineData("http://127.0.0.1:8080", "https://abc.tunnel.example/miniapp/", null, "abc.tunnel.example")]
    [InlineData("http://127.0.0.1:8080", null, "app.example.org", null)]
    public void Wallet_login_gets_a_local_domain_unless_one_is_configured(string url, string? miniAppUrl, string? configured, string? expected)
    {
        using var temp = new TempDir("cocoon-up-proof");
        var program = Path.Combine(temp.Path, "program");
        File.WriteAllText(program, string.Empty);
        var values = new Dictionary<string, string?>
        {
            ["Cocoon:DataDir"] = Path.Combine(temp.Path, "data"),
            ["Gateway:Url"] = url,
            ["Telegram:MiniAppUrl"] = miniAppUrl,
            ["Ton:Proof:AllowedDomains:0"] = configured,
        };
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(values.Where(v => v.Value is not null))
            .AddCommandLine(["--gateway", program, "--worker", program], UpSettings.SwitchMappings)
            .Build();

        // up passes it as Ton__Proof__AllowedDomains__0, which the gateway's ton_proof check reads as an allowed host.
        Assert.Equal(expected, UpSettings.From(configuration).TonProofDomain);
    }
}
