"""The live watcher: one poll of the chain head for every open page."""

from __future__ import annotations

import asyncio

from envmon.console.live import HeadWatcher


class Head:
    def __init__(self) -> None:
        self.seq = 5
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        return self.seq


class TestHeadWatcher:
    def test_no_listener_no_reads(self) -> None:
        """Nobody watching: the journal is not read at all."""
        head = Head()

        async def scenario() -> None:
            watcher = HeadWatcher(head, interval_s=0.01)
            watcher.start()
            await asyncio.sleep(0.1)
            await watcher.stop()

        asyncio.run(scenario())
        assert head.reads == 0

    def test_listeners_see_each_change_once(self) -> None:
        """Two pages each get the new seq; ticks repeat the same seq between changes."""
        head = Head()

        async def listen(watcher: HeadWatcher, seen: list[int]) -> None:
            async for seq in watcher.changes(since=5, tick_s=0.05):
                seen.append(seq)
                if seq == 7:
                    return

        async def scenario() -> tuple[list[int], list[int]]:
            watcher = HeadWatcher(head, interval_s=0.01)
            watcher.start()
            a: list[int] = []
            b: list[int] = []
            tasks = [
                asyncio.create_task(listen(watcher, a)),
                asyncio.create_task(listen(watcher, b)),
            ]
            await asyncio.sleep(0.1)
            head.seq = 7
            await asyncio.wait_for(asyncio.gather(*tasks), 5)
            await watcher.stop()
            return a, b

        a, b = asyncio.run(scenario())
        for seen in (a, b):
            assert seen[-1] == 7
            assert set(seen) <= {5, 7}

    def test_one_poll_serves_many_listeners(self) -> None:
        """Reads follow the interval, not the number of pages."""
        head = Head()

        async def listen(watcher: HeadWatcher) -> None:
            async for _ in watcher.changes(since=5, tick_s=0.05):
                pass

        async def scenario() -> None:
            watcher = HeadWatcher(head, interval_s=0.05)
            watcher.start()
            tasks = [asyncio.create_task(listen(watcher)) for _ in range(20)]
            await asyncio.sleep(0.5)
            await watcher.stop()
            await asyncio.wait_for(asyncio.gather(*tasks), 5)

        asyncio.run(scenario())
        assert 3 <= head.reads <= 15

    def test_stop_ends_the_streams(self) -> None:
        """Stopping the watcher ends every listener (the console is shutting down)."""
        head = Head()

        async def scenario() -> bool:
            watcher = HeadWatcher(head, interval_s=0.01)
            watcher.start()

            async def listen() -> None:
                async for _ in watcher.changes(since=5, tick_s=10):
                    pass

            task = asyncio.create_task(listen())
            await asyncio.sleep(0.05)
            await watcher.stop()
            await asyncio.wait_for(task, 2)
            return task.done()

        assert asyncio.run(scenario())

    def test_a_page_closed_mid_wait_leaves_the_others_working(self) -> None:
        """A listener cancelled while waiting (browser gone) breaks nothing: the
        others still see changes and the watcher still stops at once."""
        head = Head()

        async def scenario() -> list[int]:
            watcher = HeadWatcher(head, interval_s=0.01)
            watcher.start()
            seen: list[int] = []

            async def listen(into: list[int]) -> None:
                async for seq in watcher.changes(since=5, tick_s=0.02):
                    into.append(seq)

            gone = asyncio.create_task(listen([]))
            stays = asyncio.create_task(listen(seen))
            await asyncio.sleep(0.1)
            gone.cancel()
            await asyncio.sleep(0.05)
            head.seq = 9
            await asyncio.sleep(0.1)
            await asyncio.wait_for(watcher.stop(), 2)
            await asyncio.wait_for(stays, 2)
            return seen

        assert 9 in asyncio.run(scenario())
