import NIOCore
import NIOPosix
import RegistryCLI

// The HTTP server runs Swift concurrency's tasks on NIO's event loops, where its sockets and the
// database connections live: no hop between thread pools at every database round trip. Only for
// `serve`: the other commands do long CPU work (the demo) that must not hold up an event loop.
if CommandLine.arguments.dropFirst().first == "serve" {
    NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
}
await RegistryCommand.runFromCommandLine()
