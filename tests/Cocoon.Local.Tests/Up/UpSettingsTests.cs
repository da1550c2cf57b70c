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
}
